"""User-bound downloads (see :mod:`lashme.files.downloads`).

- ``GET /dl/zip/{job_id}?u=&e=&s=``: the "download all unlocked" ZIP.
- ``GET /dl/zip-set?k=sel&v=ID.ID…&u=&e=&s=`` / ``?k=fav&u=&e=&s=``: a ZIP of a gallery selection
  or of all favourites (the user's unlocked, rendered full-size variants only).
- ``GET /dl/variant/{variant_id}/{full|insta}?u=&e=&s=``: one unlocked file;
  answered with a redirect (303) to the storage's own URL valid for
  :data:`HANDOFF_TTL` seconds (a signed ``/files/…`` URL or an S3 presigned GET).

Served only when the HMAC signature and expiry check out AND the request
carries the signed-in session (:data:`~lashme.accounts.auth.SESSION_COOKIE` cookie) of the user the URL
was issued to; anything else is a 403/404 with no detail.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from lashme.accounts import auth
from lashme.accounts.auth import SESSION_COOKIE
from lashme.errors import LinkInvalid, NotFound
from lashme.files import downloads
from lashme.files.storage import get_storage
from lashme.files.storage.base import StorageError
from lashme.ops.db import session_scope

#: seconds the storage URL behind a checked variant download stays valid
HANDOFF_TTL = 60


def _session_user(token: str | None) -> int | None:
    with session_scope() as s:
        user = auth.user_for_token(s, token)
        return user.id if user else None


def _zip_response(name: str, entries: list[downloads.ZipEntry]) -> StreamingResponse:
    """The ZIP streamed (Starlette iterates the sync generator in its thread pool: storage reads block)."""
    return StreamingResponse(
        downloads.stream_zip(entries),
        media_type="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def serve_zip(request: Request) -> Response:
    """Stream the job's ZIP; 403 for bad links or another session, 404 when there is nothing to send."""
    job_id = request.path_params["job_id"][:32]
    q = request.query_params
    try:
        user_id = downloads.check_zip_signature(job_id, q.get("u", ""), q.get("e", ""), q.get("s", ""))
    except LinkInvalid as exc:
        return PlainTextResponse(exc.message, status_code=403)
    caller = await asyncio.to_thread(_session_user, request.cookies.get(SESSION_COOKIE))
    if caller != user_id:
        return PlainTextResponse("Not found", status_code=404)
    try:
        name, entries = await asyncio.to_thread(downloads.job_zip_entries, job_id, user_id=user_id)
    except (NotFound, StorageError):
        return PlainTextResponse("Not found", status_code=404)
    return _zip_response(name, entries)


async def serve_zip_set(request: Request) -> Response:
    """Stream a selection / favourites ZIP; 403 bad link, 404 another session or nothing unlocked."""
    q = request.query_params
    kind, value = q.get("k", ""), q.get("v", "")[: 33 * downloads.MAX_ZIP_ENTRIES]
    try:
        user_id, ids = downloads.check_set_zip_signature(
            kind, value, q.get("u", ""), q.get("e", ""), q.get("s", "")
        )
    except LinkInvalid as exc:
        return PlainTextResponse(exc.message, status_code=403)
    caller = await asyncio.to_thread(_session_user, request.cookies.get(SESSION_COOKIE))
    if caller != user_id:
        return PlainTextResponse("Not found", status_code=404)
    try:
        plan = await asyncio.to_thread(downloads.plan_set_zip, kind, ids, user_id=user_id)
    except NotFound:
        return PlainTextResponse("Not found", status_code=404)
    if not plan.entries:
        return PlainTextResponse("Not found", status_code=404)
    name = "lashme-favorites.zip" if kind == downloads.ZIP_FAVORITES else "lashme-selection.zip"
    return _zip_response(name, list(plan.entries))


async def serve_variant(request: Request) -> Response:
    """Redirect the right signed-in user to one unlocked file; 403 bad link, 404 anyone else."""
    variant_id = request.path_params["variant_id"][:32]
    kind = request.path_params["kind"]
    if kind not in downloads.VARIANT_KINDS:
        return PlainTextResponse("Not found", status_code=404)
    q = request.query_params
    try:
        user_id = downloads.check_signature(
            f"variant-{kind}", variant_id, q.get("u", ""), q.get("e", ""), q.get("s", "")
        )
    except LinkInvalid as exc:
        return PlainTextResponse(exc.message, status_code=403)
    caller = await asyncio.to_thread(_session_user, request.cookies.get(SESSION_COOKIE))
    if caller != user_id:
        return PlainTextResponse("Not found", status_code=404)
    try:
        key, name = await asyncio.to_thread(downloads.variant_file, variant_id, kind, user_id=user_id)
    except NotFound:
        return PlainTextResponse("Not found", status_code=404)
    url = get_storage().url(key, expires_in=HANDOFF_TTL, download_name=name)
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "private, no-store"})
