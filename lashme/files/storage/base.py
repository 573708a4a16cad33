"""The storage protocol every backend implements, and the object key layout.

Keys look like ``{owner}/{job_id}/original.jpg`` and
``{owner}/{job_id}/variants/{n}/{kind}.jpg`` where ``owner`` is ``u{user_id}``
or ``anon``; they are made on the server only.  Files a generation run writes
carry its run token (``variants/{n}/{kind}.r{token}.jpg``, :func:`run_variant_key`):
only the run that still holds the job's lease publishes its keys in the
database, so a stale run's files are never referenced.  Every file of a
variant lives directly in ``variants/{n}/``.
"""

from __future__ import annotations

from typing import Protocol


class StorageError(Exception):
    """A storage backend failed to read, write or delete an object."""


def job_prefix(job_id: str, user_id: int | None) -> str:
    """``u{user_id}/{job_id}/`` or ``anon/{job_id}/``."""
    owner = f"u{user_id}" if user_id is not None else "anon"
    return f"{owner}/{job_id}/"


def original_key(prefix: str) -> str:
    """Key of a job's re-encoded original photo."""
    return f"{prefix}original.jpg"


def variant_key(prefix: str, index: int, kind: str) -> str:
    """Key of one file of a variant; ``kind`` is full, insta, preview or thumb."""
    return f"{prefix}variants/{index}/{kind}.jpg"


def run_variant_key(prefix: str, index: int, kind: str, run_token: int) -> str:
    """Key of a file written by generation run ``run_token`` (see the module docstring)."""
    return f"{prefix}variants/{index}/{kind}.r{run_token}.jpg"


class Storage(Protocol):
    """Object storage for originals and variant files."""

    def put(self, key: str, data: bytes, *, content_type: str = "image/jpeg") -> None:
        """Write ``data`` at ``key`` (overwrites; atomic for readers). Raises StorageError."""

    def get(self, key: str) -> bytes:
        """Read ``key``. Raises StorageError (also when missing)."""

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""

    def url(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        """A URL the browser can GET for ``expires_in`` seconds.

        With ``download_name`` the response carries ``Content-Disposition:
        attachment; filename=…``.
        """

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """An absolute URL a third party (e.g. a generation provider) can GET for ``expires_in`` s.

        Raises StorageError when the backend has no public address.
        """

    def usage(self, prefix: str = "") -> tuple[int, int]:
        """``(objects, bytes)`` stored under ``prefix``. Raises StorageError."""

    def ping(self) -> None:
        """Check the backend is reachable and usable. Raises StorageError."""
