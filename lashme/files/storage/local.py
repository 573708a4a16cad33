"""Local-folder storage with signed, expiring URLs served by ``lashme.files.files_api``.

URL scheme: ``/files/{key}?e={unix_expiry}&n={download_name}&s={signature}``, the
signature made by the project's one link signer (``lashme.files.signing``,
itsdangerous HMAC-SHA256, purpose ``files``) over ``(key, n, e)``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from lashme.errors import LinkInvalid
from lashme.files.signing import LinkSigner
from lashme.files.storage.base import StorageError

URL_PREFIX = "/files/"


class LocalStorage:
    """Objects as files under ``root``; see the module docstring for URLs.

    Args:
        root: folder that holds the objects (created if missing).
        signing_key: HMAC secret for URLs.
    """

    def __init__(self, root: Path, *, signing_key: bytes, public_url: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = LinkSigner(signing_key, "files")
        self._public_url = public_url.rstrip("/") if public_url else None

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or ".." in key.split("/") or not path.is_relative_to(self.root):
            raise StorageError(f"invalid key {key!r}")
        return path

    def put(self, key: str, data: bytes, *, content_type: str = "image/jpeg") -> None:
        """Write ``data`` at ``key`` via a temp file and rename (atomic for readers)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"write failed for {key}") from exc

    def get(self, key: str) -> bytes:
        """Read ``key``. Raises StorageError when missing or unreadable."""
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StorageError(f"read failed for {key}") from exc

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        """Delete the folder ``prefix`` and all it holds; returns the number of files."""
        path = self._path(prefix.rstrip("/"))
        if not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return count

    def url(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        """A signed relative URL valid for at least ``expires_in`` seconds (at most 1.25×).

        The expiry is rounded up to a quarter of ``expires_in``, so the same
        object gets the same URL for a while and browsers can reuse their cache.
        """
        self._path(key)
        step = max(1, int(expires_in) // 4)
        expires = -(-(int(time.time()) + int(expires_in)) // step) * step
        name = download_name or ""
        query = {"e": expires, "s": self._signer.sign(key, name, expires=expires)}
        if name:
            query["n"] = name
        return f"{URL_PREFIX}{quote(key)}?{urlencode(query)}"

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """``url()`` made absolute with ``public_url`` (``LASHME_PUBLIC_URL``).

        Raises:
            StorageError: no public URL is configured (a third party could not reach us).
        """
        if not self._public_url:
            raise StorageError("LASHME_PUBLIC_URL is not set; local files have no public address")
        return self._public_url + self.url(key, expires_in=expires_in)

    def usage(self, prefix: str = "") -> tuple[int, int]:
        """``(objects, bytes)`` of the files under the folder ``prefix`` (all by default)."""
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.exists():
            return 0, 0
        sizes = [p.stat().st_size for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")]
        return len(sizes), sum(sizes)

    def ping(self) -> None:
        """Check the folder exists and is writable. Raises StorageError."""
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError(f"storage folder {self.root} is not writable")

    def resolve_signed(
        self, key: str, expires: str, name: str, signature: str, *, now: float | None = None
    ) -> Path:
        """Check a signed URL's parts and return the file to serve.

        Raises:
            LinkInvalid: ``files.link_invalid`` (bad signature, bad key, missing
                file) or ``files.link_expired``.
        """
        self._signer.check(key, name or "", expires=expires, signature=signature, now=now)
        try:
            path = self._path(key)
        except StorageError:
            raise LinkInvalid("files.link_invalid") from None
        if not path.is_file():
            raise LinkInvalid("files.link_invalid")
        return path
