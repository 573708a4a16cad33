"""REST API v1 routes: what a master does on the pages, for her own tools.

Each route parses input, calls one :mod:`lashme.app` use-case and returns its view as JSON.
Sync routes run in FastAPI's thread pool (the use-cases block on the database and storage).
Writes that spend or create something honour an ``Idempotency-Key`` header
(:mod:`lashme.api.idempotent`).  Errors are problem+json (:mod:`lashme.api.problems`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from lashme.api import schemas
from lashme.api.idempotent import run_idempotent
from lashme.api.security import reader, writer
from lashme.app import credits as credits_uc
from lashme.app import downloads as downloads_uc
from lashme.app import gallery as gallery_uc
from lashme.app import job as job_uc
from lashme.app import upload as upload_uc
from lashme.app import variant as variant_uc
from lashme.app.api_tokens import TokenCaller
from lashme.app.paging import MAX_TOKEN_LENGTH

router = APIRouter(responses=schemas.PROBLEM_RESPONSES)

IdemKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, description="Repeat a write safely"),
]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Job id (32 hex)")]
VariantId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Variant id (32 hex)")]
Reader = Annotated[TokenCaller, Depends(reader)]
PageToken = Annotated[
    str,
    Query(
        max_length=MAX_TOKEN_LENGTH,
        description="A previous page's next_page_token or prev_page_token (empty: the first page)",
    ),
]
Writer = Annotated[TokenCaller, Depends(writer)]
#: seconds between keep-alive comments / safety re-reads of a watched job
SSE_POLL_SECONDS = 15.0


def _absolute(request: Request, url: str) -> str:
    """A storage URL made absolute against the app's origin (local storage returns ``/files/…``)."""
    if not url.startswith("/"):
        return url
    return f"{request.url.scheme}://{request.url.netloc}{url}"


def _job_json(request: Request, view: job_uc.JobView) -> dict[str, Any]:
    data = dataclasses.asdict(view)
    for tile in data["variants"]:
        for field in ("preview_url", "thumb_url"):
            if tile.get(field):
                tile[field] = _absolute(request, tile[field])
    return data


# --- jobs -------------------------------------------------------------------------------------------


@router.post("/jobs", status_code=201, response_model=schemas.Submitted, tags=["jobs"])
def upload_photo(
    photo: Annotated[UploadFile, File(description="A JPEG, PNG, WebP or HEIC photo of your work")],
    found: Writer,
    response: Response,
    idempotency_key: IdemKey = None,
) -> dict[str, Any]:
    """Upload a photo: the same checks as the page, then a job that makes 4 variants."""
    data = photo.file.read(upload_uc.max_bytes() + 1)

    def submit() -> tuple[int, dict[str, Any]]:
        return 201, dataclasses.asdict(upload_uc.submit_photo(found.caller, data))

    status, body = run_idempotent(found.caller, idempotency_key, "POST /jobs", data, submit)
    response.status_code = status
    return body


@router.get("/jobs/{job_id}", response_model=schemas.Job, tags=["jobs"])
def get_job(request: Request, job_id: JobId, found: Reader) -> dict[str, Any]:
    """A job's status and, once DONE, its 4 variants with watermarked preview URLs."""
    return _job_json(request, job_uc.get(found.caller, job_id))


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def job_events(request: Request, job_id: JobId, found: Reader) -> StreamingResponse:
    """Server-sent events: a ``job`` event with the job's JSON now and after each change, until final."""
    caller = found.caller
    first = await asyncio.to_thread(job_uc.get, caller, job_id)  # ownership checked before streaming

    async def stream() -> AsyncIterator[str]:
        view = first
        yield f"event: job\ndata: {json.dumps(_job_json(request, view), default=str)}\n\n"
        if view.final:
            return
        async with job_uc.watch(caller, job_id) as watch:
            while not view.final:
                if await request.is_disconnected():
                    return
                changed = await watch.wait(SSE_POLL_SECONDS)
                new = await asyncio.to_thread(job_uc.get, caller, job_id)
                if changed or new != view:
                    view = new
                    yield f"event: job\ndata: {json.dumps(_job_json(request, view), default=str)}\n\n"
                else:
                    yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.post("/jobs/{job_id}/cancel", response_model=schemas.Job, tags=["jobs"])
def cancel_job(request: Request, job_id: JobId, found: Writer) -> dict[str, Any]:
    """Cancel a job that has not finished (its reservation, if any, is released)."""
    return _job_json(request, job_uc.cancel(found.caller, job_id))


@router.post("/jobs/{job_id}/retry", response_model=schemas.Job, tags=["jobs"])
def retry_job(request: Request, job_id: JobId, found: Writer) -> dict[str, Any]:
    """Run a FAILED or CANCELED job again."""
    # a FAILED job runs again as itself; a CANCELED one starts again as a new job: that one is returned
    return _job_json(request, job_uc.get(found.caller, job_uc.retry(found.caller, job_id)))


@router.delete("/jobs/{job_id}", status_code=204, tags=["gallery"])
def delete_job(job_id: JobId, found: Writer) -> Response:
    """Delete a job with its photo and every variant file (the credit history stays)."""
    gallery_uc.delete_job(found.caller, job_id)
    return Response(status_code=204)


# --- variants ---------------------------------------------------------------------------------------


@router.get("/variants/{variant_id}", response_model=schemas.Variant, tags=["variants"])
def get_variant(request: Request, variant_id: VariantId, found: Reader) -> dict[str, Any]:
    """One variant: preset, unlock state, favorite, note and preview URLs."""
    data = dataclasses.asdict(variant_uc.get(found.caller, variant_id))
    for field in ("preview_url", "before_url"):
        if data.get(field):
            data[field] = _absolute(request, data[field])
    return data


@router.post("/variants/{variant_id}/unlock", response_model=schemas.Unlocked, tags=["variants"])
def unlock_variant(
    variant_id: VariantId, found: Writer, response: Response, idempotency_key: IdemKey = None
) -> dict[str, Any]:
    """Pay the unlock price (1 credit by default) for the full resolution; free when already unlocked."""

    def unlock() -> tuple[int, dict[str, Any]]:
        return 200, dataclasses.asdict(variant_uc.unlock(found.caller, variant_id))

    status, body = run_idempotent(
        found.caller, idempotency_key, f"POST /variants/{variant_id}/unlock", b"", unlock
    )
    response.status_code = status
    return body


@router.get("/variants/{variant_id}/download", response_model=schemas.DownloadLink, tags=["variants"])
def download_variant(
    request: Request,
    variant_id: VariantId,
    found: Reader,
    kind: Annotated[Literal["full", "insta"], Query(description="full size or the 4:5 crop")] = "full",
) -> dict[str, Any]:
    """A short-lived URL of an unlocked variant's file."""
    link = downloads_uc.file_link(found.caller, variant_id, kind)
    return {**dataclasses.asdict(link), "url": _absolute(request, link.url)}


@router.put("/variants/{variant_id}/favorite", response_model=schemas.Favorite, tags=["gallery"])
def favorite(variant_id: VariantId, found: Writer) -> dict[str, Any]:
    """Mark a variant as a favorite."""
    return {"variant_id": variant_id, "favorite": gallery_uc.set_favorite(found.caller, variant_id, True)}


@router.delete("/variants/{variant_id}/favorite", response_model=schemas.Favorite, tags=["gallery"])
def unfavorite(variant_id: VariantId, found: Writer) -> dict[str, Any]:
    """Unmark a favorite."""
    return {"variant_id": variant_id, "favorite": gallery_uc.set_favorite(found.caller, variant_id, False)}


@router.delete("/variants/{variant_id}", status_code=204, tags=["gallery"])
def delete_variant(variant_id: VariantId, found: Writer) -> Response:
    """Delete one variant's files (its unlock and credit history stay)."""
    gallery_uc.delete_variant(found.caller, variant_id)
    return Response(status_code=204)


# --- gallery and credits ----------------------------------------------------------------------------


@router.get(
    "/gallery/zip",
    tags=["gallery"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The ZIP, streamed"}},
)
def gallery_zip(
    found: Reader,
    variant_id: Annotated[
        list[Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")]],
        Query(max_length=100, description="The chosen variants (repeat the parameter)"),
    ] = [],  # noqa: B006 - FastAPI copies list defaults
    favorites: Annotated[bool, Query(description="Every favourite instead of variant_id")] = False,
) -> StreamingResponse:
    """A ZIP of your chosen (or favourite) unlocked variants at full size; locked ones are left out.

    The headers ``X-LashMe-Locked`` and ``X-LashMe-Preparing`` count what was left out (not
    unlocked; unlocked but its full size still being made).
    """
    z = downloads_uc.zip_stream(found.caller, variant_id, favorites=favorites)
    return StreamingResponse(
        z.chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{z.file_name}"',
            "Cache-Control": "private, no-store",
            "X-LashMe-Locked": str(z.locked),
            "X-LashMe-Preparing": str(z.preparing),
        },
    )


@router.get("/gallery", response_model=schemas.GalleryPage, tags=["gallery"])
def gallery(
    request: Request,
    found: Reader,
    search: Annotated[str, Query(max_length=100, description="preset name, date or note text")] = "",
    preset: Annotated[str, Query(max_length=32)] = "",
    favorites: bool = False,
    unlocked: bool = False,
    status: Annotated[str, Query(max_length=16)] = "",
    sort: Literal["newest", "oldest", "favorites"] = "newest",
    page_token: PageToken = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
) -> dict[str, Any]:
    """The caller's gallery: one tile per variant (or per job without variants), filtered and sorted.

    Paged by tokens: pass a response's ``next_page_token`` (or ``prev_page_token``) back as
    ``page_token`` with the same ``sort`` to get the page after (before) it; new uploads never
    shift a page.  A token of another sort, or an edited one, gives the first page.
    """
    query = gallery_uc.GalleryQuery(
        preset=preset,
        favorites=favorites,
        unlocked=unlocked,
        status=status,
        search=search,
        sort=sort,
        page_token=page_token,
        limit=limit,
    )
    data = dataclasses.asdict(gallery_uc.search(found.caller, query))
    for tile in data["items"]:
        if tile.get("thumb_url"):
            tile["thumb_url"] = _absolute(request, tile["thumb_url"])
    return data


@router.get("/balance", response_model=schemas.Balance, tags=["credits"])
def balance(found: Reader) -> dict[str, Any]:
    """Credits available now, credits held by running jobs, and the unlock price."""
    return dataclasses.asdict(credits_uc.balance(found.caller))


@router.get("/ledger", response_model=schemas.LedgerPage, tags=["credits"])
def ledger(
    found: Reader,
    page_token: PageToken = "",
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """The caller's credit history, newest first: every entry with its reason and resulting balance.

    Paged by tokens: pass a response's ``next_page_token`` back as ``page_token`` for the older
    entries (``prev_page_token`` for the newer ones); an edited token gives the newest entries.
    """
    return dataclasses.asdict(credits_uc.history(found.caller, page_token=page_token, page_size=page_size))
