"""HTTP routes mounted on the Reflex backend (``api_transformer``): files, webhooks, health.

``GET /files/{key}?e=&n=&s=`` serves a stored object only when the HMAC
signature matches and the expiry has not passed (see ``lashme.files.storage.local``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from lashme.credits.stripe_webhooks import webhook_endpoint
from lashme.errors import LinkInvalid
from lashme.files.download_routes import serve_variant, serve_zip, serve_zip_set
from lashme.files.storage import LocalStorage, get_storage
from lashme.ops import health
from lashme.ops.logging_setup import RequestIdMiddleware


async def serve_file(request: Request) -> Response:
    """Serve one signed object; 403 on a bad or expired signature, 404 elsewhere."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        return PlainTextResponse("Not found", status_code=404)
    key = request.path_params["key"]
    q = request.query_params
    try:
        path = storage.resolve_signed(key, q.get("e", ""), q.get("n", ""), q.get("s", ""))
    except LinkInvalid as exc:
        return PlainTextResponse(exc.message, status_code=403)
    headers = {
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    name = q.get("n") or None
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers=headers,
        filename=name,
        content_disposition_type="attachment" if name else "inline",
    )


def build_api() -> Starlette:
    """The Starlette app mounted in front of Reflex's backend."""
    from lashme.providers.fal_webhook import fal_webhook

    return Starlette(
        routes=[
            Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"]),
            Route("/stripe/webhook", webhook_endpoint, methods=["POST"]),
            Route("/fal/webhook", fal_webhook, methods=["POST"]),
            Route("/dl/zip/{job_id}", serve_zip, methods=["GET"]),
            Route("/dl/zip-set", serve_zip_set, methods=["GET"]),
            Route("/dl/variant/{variant_id}/{kind}", serve_variant, methods=["GET"]),
            *health.ROUTES,
        ],
        middleware=[Middleware(RequestIdMiddleware)],
    )
