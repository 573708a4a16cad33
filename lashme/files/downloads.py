r"""Downloads of unlocked work: single variant files, the "all unlocked" ZIP, the original's preview.

Download links are bound to one user: ``GET /dl/zip/{job_id}?u=&e=&s=`` and
``GET /dl/variant/{variant_id}/{full|insta}?u=&e=&s=`` (``lashme.files.download_routes``)
carry ``s``, the signature of ``(id, u, e)`` by the project's one link signer
(``lashme.files.signing``, itsdangerous HMAC-SHA256, purpose ``zip`` /
``variant-full`` / ``variant-insta``), and the route also requires the signed-in session of user ``u``,
so a leaked link is useless to anyone else; ownership and unlocks are
checked again when the file is served.  Entries are stored uncompressed
(JPEG does not shrink) and the archive is built in memory: at most 4 full-size
JPEGs of a few MB each.
"""

from __future__ import annotations

import io
import time
import zipfile
from urllib.parse import urlencode

from sqlalchemy.engine import Engine

from lashme.credits import unlocks
from lashme.errors import LinkInvalid, NotFound
from lashme.files.signing import LinkSigner
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import StorageError
from lashme.images import imaging
from lashme.images.previews import PREVIEW_MAX_SIDE
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

ZIP_ROUTE = "/dl/zip/"
VARIANT_ROUTE = "/dl/variant/"
VARIANT_KINDS = ("full", "insta")


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


def build_zip(
    job_id: str, *, user_id: int, engine: Engine | None = None, storage: Storage | None = None
) -> tuple[str, bytes]:
    """The job's unlocked full-size variants as a ZIP.

    Returns:
        ``(file_name, zip_bytes)``.

    Raises:
        NotFound: ``job.not_found`` (missing / not the user's), ``job.not_done``,
            or ``gallery.nothing_unlocked`` when the user unlocked none of its variants.
        StorageError: a file could not be read.
    """
    storage = storage or get_storage()
    with session_scope(engine) as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=None)
        if job.status != JobStatus.DONE:
            raise NotFound("job.not_done")
        variants = jobs.variants_of(s, job.id)
        owned = unlocks.unlocked_ids(s, user_id=user_id, variant_ids=[v.id for v in variants])
        files = [
            (entry_name(job.id, v.index, v.preset), v.full_key)
            for v in variants
            if v.id in owned and v.full_key
        ]
    if not files:
        raise NotFound("gallery.nothing_unlocked")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, key in files:
            zf.writestr(name, storage.get(key))
    return f"lashme-{job_id[:8]}.zip", buf.getvalue()


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
        img = imaging.load_for_processing(storage.get(original_key), max_side=PREVIEW_MAX_SIDE)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a stored original always decodes; be explicit if not
        raise StorageError(f"cannot decode {original_key}") from exc
    storage.put(key, imaging.encode_jpeg(img, quality=82))
    return key
