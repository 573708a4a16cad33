r"""Downloads of unlocked work: single variant files, the "all unlocked" ZIP, the original's preview.

Download links are bound to one user: ``GET /dl/zip/{job_id}?u=&e=&s=`` and
``GET /dl/variant/{variant_id}/{full|insta}?u=&e=&s=`` (``lashme.files.download_routes``)
carry ``s``, the signature of ``(id, u, e)`` by the project's one link signer
(``lashme.files.signing``, itsdangerous HMAC-SHA256, purpose ``zip`` /
``variant-full`` / ``variant-insta``), and the route also requires the signed-in session of user ``u``,
so a leaked link is useless to anyone else; ownership and unlocks are
checked again when the file is served.  Entries are stored uncompressed
(JPEG does not shrink).

A ZIP of a gallery selection or of all favourites (``GET /dl/zip-set?k=&v=&u=&e=&s=``, purpose
``zip-set``, signing ``(k, v)``: ``k`` is ``sel`` with ``v`` the dot-joined variant ids, or ``fav``
with ``v`` empty) holds the user's unlocked, rendered full-size variants only (at most
:data:`MAX_ZIP_ENTRIES`).  Every ZIP is streamed (:func:`stream_zip`): one file is read from
storage at a time and written out in 64 KB chunks, so memory holds one file, never the archive.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.credits import unlocks
from lashme.errors import LinkInvalid, NotFound
from lashme.files.signing import LinkSigner
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import StorageError
from lashme.images import codec, working_copy
from lashme.images.previews import PREVIEW_MAX_SIDE
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

ZIP_ROUTE = "/dl/zip/"
VARIANT_ROUTE = "/dl/variant/"
ZIP_SET_ROUTE = "/dl/zip-set"
VARIANT_KINDS = ("full", "insta")
#: variants one selection / favourites ZIP may hold (a selection link carries their ids: ~3.3 KB)
MAX_ZIP_ENTRIES = 100
#: bytes written to the response at a time
ZIP_CHUNK = 64 * 1024
#: ``k`` of a selection / favourites ZIP link
ZIP_SELECTION, ZIP_FAVORITES = "sel", "fav"


def _signer(purpose: str) -> LinkSigner:
    return LinkSigner(get_settings().signing_key(), purpose)


def _user_link(path: str, purpose: str, object_id: str, user_id: int, expires_in: int | None) -> str:
    expires = int(time.time()) + int(expires_in or get_settings().download_ttl)
    signature = _signer(purpose).sign(object_id, user_id, expires=expires)
    return f"{path}?{urlencode({'u': user_id, 'e': expires, 's': signature})}"


def check_signature(
    purpose: str, object_id: str, user: str, expires: str, signature: str, *, now: float | None = None
) -> int:
    """Validate a user-bound link's parts; returns the user id it was issued to.

    Args:
        purpose: ``"zip"`` or ``"variant-full"`` / ``"variant-insta"``.
        object_id: the job or variant id in the path.
        user: the ``u`` query value (user id).
        expires: the ``e`` query value (epoch seconds).
        signature: the ``s`` query value.
        now: current time (tests).

    Raises:
        LinkInvalid: ``files.link_invalid`` (tampered) or ``files.link_expired``.
    """
    try:
        user_id = int(user)
    except (TypeError, ValueError):
        raise LinkInvalid("files.link_invalid") from None
    _signer(purpose).check(object_id, user_id, expires=expires, signature=signature, now=now)
    return user_id


def zip_url(job_id: str, *, user_id: int, expires_in: int | None = None) -> str:
    """A relative, signed, expiring URL of the job's ZIP for ``user_id`` (default TTL: ``download_ttl``)."""
    return _user_link(f"{ZIP_ROUTE}{job_id}", "zip", job_id, user_id, expires_in)


def check_zip_signature(
    job_id: str, user: str, expires: str, signature: str, *, now: float | None = None
) -> int:
    """:func:`check_signature` for a ZIP link."""
    return check_signature("zip", job_id, user, expires, signature, now=now)


def variant_url(variant_id: str, kind: str, *, user_id: int, expires_in: int | None = None) -> str:
    """A relative, signed, expiring URL of one variant file (``full`` or ``insta``) for ``user_id``.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind not in VARIANT_KINDS:
        raise ValueError("kind must be full or insta")
    path = f"{VARIANT_ROUTE}{variant_id}/{kind}"
    return _user_link(path, f"variant-{kind}", variant_id, user_id, expires_in)


def variant_file(
    variant_id: str, kind: str, *, user_id: int, engine: Engine | None = None
) -> tuple[str, str]:
    """The storage key and download file name of ``user_id``'s unlocked variant file.

    Args:
        variant_id: the variant.
        kind: ``full`` (camera resolution) or ``insta`` (the 4:5 crop).
        user_id: the signed-in owner (from the server-side session).
        engine: database engine (tests).

    Returns:
        ``(storage_key, file_name)``, e.g. ``("u1/J/variants/0/full.jpg", "lashme-1a2b3c4d-1-natural.jpg")``.

    Raises:
        NotFound: ``variant.not_found`` (missing, not the user's, not unlocked) or ``variant.not_ready``.
        ValueError: unknown ``kind``.
    """
    if kind not in VARIANT_KINDS:
        raise ValueError("kind must be full or insta")
    with session_scope(engine) as s:
        variant, job = jobs.get_owned_variant(s, variant_id, user_id=user_id)
        if not unlocks.is_unlocked(s, user_id=user_id, variant_id=variant_id):
            raise NotFound("variant.not_found")
        key = variant.full_key if kind == "full" else variant.insta_key
        if not key:
            raise NotFound("variant.not_ready")
    name = entry_name(job.id, variant.index, variant.preset)
    return key, name if kind == "full" else name.removesuffix(".jpg") + "-4x5.jpg"


def entry_name(job_id: str, index: int, preset: str) -> str:
    """File name of a variant inside the ZIP (same as a single full-size download)."""
    return f"lashme-{job_id[:8]}-{index + 1}-{preset}.jpg"


@dataclass(frozen=True)
class ZipEntry:
    """One file of a ZIP: its name in the archive, its storage key and its date (the job's upload)."""

    name: str
    key: str
    created_at: datetime


@dataclass(frozen=True)
class ZipPlan:
    """What a selection / favourites ZIP would hold for its user, and what was left out.

    Attributes:
        entries: the files, in gallery order (newest job first, then variant order).
        locked: chosen variants the user has not unlocked (left out: their full size is not theirs yet).
        preparing: unlocked variants whose clean full size is still being made (left out for now).
        capped: more than :data:`MAX_ZIP_ENTRIES` favourites qualified; the newest ones are in.
    """

    entries: tuple[ZipEntry, ...]
    locked: int = 0
    preparing: int = 0
    capped: int = 0


def _unique(entries: list[ZipEntry]) -> list[ZipEntry]:
    """Entries with distinct names (two jobs may share the 8-character id prefix)."""
    seen: set[str] = set()
    out = []
    for e in entries:
        name, n = e.name, 1
        while name in seen:
            n += 1
            name = e.name.removesuffix(".jpg") + f"-{n}.jpg"
        seen.add(name)
        out.append(ZipEntry(name, e.key, e.created_at))
    return out


def job_zip_entries(job_id: str, *, user_id: int, engine: Engine | None = None) -> tuple[str, list[ZipEntry]]:
    """The file name and entries of the job's "all unlocked" ZIP for ``user_id``.

    Raises:
        NotFound: ``job.not_found`` (missing / not the user's), ``job.not_done``,
            or ``gallery.nothing_unlocked`` when the user unlocked none of its variants.
    """
    with session_scope(engine) as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=None)
        if job.status != JobStatus.DONE:
            raise NotFound("job.not_done")
        variants = jobs.variants_of(s, job.id)
        owned = unlocks.unlocked_ids(s, user_id=user_id, variant_ids=[v.id for v in variants])
        entries = [
            ZipEntry(entry_name(job.id, v.index, v.preset), v.full_key, job.created_at)
            for v in variants
            if v.id in owned and v.full_key
        ]
    if not entries:
        raise NotFound("gallery.nothing_unlocked")
    return f"lashme-{job_id[:8]}.zip", entries


def build_zip(
    job_id: str, *, user_id: int, engine: Engine | None = None, storage: Storage | None = None
) -> tuple[str, bytes]:
    """The job's unlocked full-size variants as a ZIP, whole (tests; the route streams :func:`stream_zip`).

    Returns:
        ``(file_name, zip_bytes)``.

    Raises:
        NotFound: as :func:`job_zip_entries`.
        StorageError: a file could not be read.
    """
    name, entries = job_zip_entries(job_id, user_id=user_id, engine=engine)
    return name, b"".join(stream_zip(entries, storage=storage))


def plan_set_zip(
    kind: str, variant_ids: Sequence[str] = (), *, user_id: int, engine: Engine | None = None
) -> ZipPlan:
    """What a selection (``kind`` ``sel``: ``variant_ids``) or favourites (``fav``) ZIP holds.

    Only the user's own variants count: any id that is missing or someone else's refuses the
    whole selection (exactly like a missing one).  Locked variants and unlocked ones still being
    rendered are left out and counted.  A favourites ZIP takes the newest :data:`MAX_ZIP_ENTRIES`.

    Raises:
        NotFound: ``variant.not_found`` (a foreign or missing id, an empty or too long selection,
            an unknown ``kind``).
    """
    if kind == ZIP_SELECTION:
        ids = list(dict.fromkeys(str(v)[:32] for v in variant_ids if v))
        if not ids or len(ids) > MAX_ZIP_ENTRIES:
            raise NotFound("variant.not_found")
        where = [Variant.id.in_(ids)]
    elif kind == ZIP_FAVORITES:
        ids, where = [], [Variant.favorite.is_(True)]
    else:
        raise NotFound("variant.not_found")
    with session_scope(engine) as s:
        rows = s.execute(
            select(Variant, Job)
            .join(Job, Job.id == Variant.job_id)
            .where(Job.user_id == user_id, *where)
            .order_by(Job.created_at.desc(), Job.id.desc(), Variant.index)
        ).all()
        if kind == ZIP_SELECTION and len(rows) != len(ids):
            raise NotFound("variant.not_found")
        owned = unlocks.unlocked_ids(s, user_id=user_id, variant_ids=[v.id for v, _ in rows])
    entries, locked, preparing = [], 0, 0
    for v, job in rows:
        if v.id not in owned:
            locked += 1
        elif not v.full_key:
            preparing += 1
        else:
            entries.append(ZipEntry(entry_name(job.id, v.index, v.preset), v.full_key, job.created_at))
    capped = max(0, len(entries) - MAX_ZIP_ENTRIES)
    return ZipPlan(tuple(_unique(entries[:MAX_ZIP_ENTRIES])), locked, preparing, capped)


def set_zip_url(
    kind: str, variant_ids: Sequence[str] = (), *, user_id: int, expires_in: int | None = None
) -> str:
    """A relative, signed, expiring URL of the selection (``sel``) or favourites (``fav``) ZIP of a user."""
    value = ".".join(variant_ids) if kind == ZIP_SELECTION else ""
    expires = int(time.time()) + int(expires_in or get_settings().download_ttl)
    signature = _signer("zip-set").sign(kind, value, user_id, expires=expires)
    query = {"k": kind, "v": value, "u": user_id, "e": expires, "s": signature}
    return f"{ZIP_SET_ROUTE}?{urlencode({k: v for k, v in query.items() if v != ''})}"


def check_set_zip_signature(
    kind: str, value: str, user: str, expires: str, signature: str, *, now: float | None = None
) -> tuple[int, list[str]]:
    """Validate a selection / favourites ZIP link; returns ``(user_id, variant_ids)``.

    Raises:
        LinkInvalid: ``files.link_invalid`` (tampered) or ``files.link_expired``.
    """
    try:
        user_id = int(user)
    except (TypeError, ValueError):
        raise LinkInvalid("files.link_invalid") from None
    _signer("zip-set").check(kind, value, user_id, expires=expires, signature=signature, now=now)
    return user_id, [v for v in value.split(".") if v]


class _Sink:
    """A write-only, unseekable file for :class:`zipfile.ZipFile`: collects bytes until taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def stream_zip(entries: Sequence[ZipEntry], *, storage: Storage | None = None) -> Iterator[bytes]:
    """The ZIP of ``entries`` as a stream of byte chunks (about :data:`ZIP_CHUNK` each).

    Entries are stored (JPEG does not shrink) with data descriptors (the archive is written
    front to back, never seeked); one file is in memory at a time.

    Raises:
        StorageError: a file could not be read (mid-stream: the download breaks off).
    """
    storage = storage or get_storage()
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
        for entry in entries:
            data = storage.get(entry.key)
            info = zipfile.ZipInfo(entry.name, date_time=entry.created_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = len(data)
            with zf.open(info, "w") as out:
                for i in range(0, len(data), ZIP_CHUNK):
                    out.write(data[i : i + ZIP_CHUNK])
                    chunk = sink.take()
                    if chunk:
                        yield chunk
            del data
            yield sink.take()
    tail = sink.take()
    if tail:
        yield tail


def original_preview_key(original_key: str) -> str:
    """Key of the original's comparison preview, beside the original (``…/original_preview.jpg``)."""
    return original_key.rsplit("/", 1)[0] + "/original_preview.jpg"


def ensure_original_preview(original_key: str, *, storage: Storage | None = None) -> str:
    """Make (once) a small copy of the original for the before/after slider; returns its key.

    The copy's long side is :data:`~lashme.images.previews.PREVIEW_MAX_SIDE` (as the
    variant previews), so the browser never loads the full-size original.

    Raises:
        StorageError: the original is missing or the preview cannot be written.
    """
    storage = storage or get_storage()
    key = original_preview_key(original_key)
    if storage.exists(key):
        return key
    try:
        img = working_copy.load_for_processing(storage.get(original_key), max_side=PREVIEW_MAX_SIDE)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a stored original always decodes; be explicit if not
        raise StorageError(f"cannot decode {original_key}") from exc
    storage.put(key, codec.encode_jpeg(img, quality=82))
    return key
