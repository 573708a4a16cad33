"""Download links for API clients: a short-lived storage URL of an unlocked variant's file.

The pages use the user-bound ``/dl/…`` routes (they check the sign-in cookie again); an API
client holds no cookie, so :func:`file_link` checks ownership and the unlock *now* and hands
out the storage's own signed (local) or presigned (S3) URL, valid ``download_ttl`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lashme.app.caller import Caller
from lashme.errors import NotFound
from lashme.files import downloads
from lashme.files.storage import get_storage
from lashme.ops.settings import get_settings


@dataclass(frozen=True)
class DownloadLink:
    """A file the caller may fetch.

    Attributes:
        url: signed URL (relative ``/files/…`` for local storage, absolute for S3).
        file_name: the name the file downloads as.
        expires_in: seconds the URL stays valid.
    """

    url: str
    file_name: str
    expires_in: int


def file_link(caller: Caller, variant_id: str, kind: str = "full") -> DownloadLink:
    """A short-lived URL of the caller's unlocked variant file (``full`` or ``insta``).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (missing, not the caller's, not unlocked, unknown kind)
            or ``variant.not_ready``.
    """
    user_id = caller.require_user()
    if kind not in downloads.VARIANT_KINDS:
        raise NotFound("variant.not_found")
    key, name = downloads.variant_file(str(variant_id)[:32], kind, user_id=user_id)
    ttl = get_settings().download_ttl
    return DownloadLink(
        url=get_storage().url(key, expires_in=ttl, download_name=name), file_name=name, expires_in=ttl
    )


@dataclass(frozen=True)
class ZipStream:
    """A ZIP of chosen variants (or all favourites) for an API client, produced while it is sent.

    Attributes:
        file_name: ``lashme-selection.zip`` or ``lashme-favorites.zip``.
        chunks: the archive's bytes, one stored file at a time (iterate it off the event loop).
        count: full-size files in it.
        locked: chosen variants left out because the caller has not unlocked them.
        preparing: unlocked variants left out because their clean full size is still being made.
    """

    file_name: str
    chunks: Iterator[bytes]
    count: int
    locked: int = 0
    preparing: int = 0


def plan_zip(
    caller: Caller, variant_ids: Sequence[str] = (), *, favorites: bool = False
) -> tuple[str, list[str], int, downloads.ZipPlan]:
    """What a ZIP of the caller's chosen (or favourite) variants holds, checked now.

    The one check both the signed link (:func:`lashme.app.gallery.zip_selection`) and the stream
    (:func:`zip_stream`) make.

    Returns:
        ``(kind, ids, user_id, plan)``: the link kind, the chosen ids (cut to 32 characters; empty
        for favourites), the caller's user id and the plan of entries / locked / preparing counts.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (an id missing or someone else's, nothing or too much
            chosen); ``gallery.zip_nothing_unlocked`` when none of them is unlocked and ready.
    """
    user_id = caller.require_user()
    kind = downloads.ZIP_FAVORITES if favorites else downloads.ZIP_SELECTION
    ids = [] if favorites else [str(v)[:32] for v in variant_ids]
    plan = downloads.plan_set_zip(kind, ids, user_id=user_id)
    if not plan.entries:
        raise NotFound("gallery.zip_nothing_unlocked", locked=plan.locked, preparing=plan.preparing)
    return kind, ids, user_id, plan


def zip_stream(caller: Caller, variant_ids: Sequence[str] = (), *, favorites: bool = False) -> ZipStream:
    """The caller's chosen (or favourite) unlocked variants at full size as a streamed ZIP.

    The same rules as :func:`lashme.app.gallery.zip_selection` (the pages' signed link), checked now.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (an id missing or someone else's, nothing or too much
            chosen); ``gallery.zip_nothing_unlocked`` when none of them is unlocked and ready.
    """
    kind, ids, user_id, plan = plan_zip(caller, variant_ids, favorites=favorites)
    name = "lashme-favorites.zip" if favorites else "lashme-selection.zip"
    return ZipStream(name, downloads.stream_zip(plan.entries), len(plan.entries), plan.locked, plan.preparing)
