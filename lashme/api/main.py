"""The REST API v1 application (FastAPI), mounted on the Reflex backend at ``/api/v1``.

``build()`` makes the app: routes (:mod:`lashme.api.routes`), problem+json errors
(:mod:`lashme.api.problems`), OpenAPI 3.1 at ``/api/v1/openapi.json`` and Swagger UI at
``/api/v1/docs`` (its script is served by our origin's CSP rules only when the docs page is
opened; the JSON document needs nothing).
"""

from __future__ import annotations

from fastapi import FastAPI

from lashme.api import problems
from lashme.api.routes import router

PREFIX = "/api/v1"
DESCRIPTION = """\
LashMe's API for masters' own tools (a Telegram bot, a booking site, a phone app).

**Auth**: create a personal access token on your account page and send it as
`Authorization: Bearer lm_…`. A `read` token may call GET routes; `write` may upload, unlock,
favorite and delete.

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json`
in your `Accept-Language` (Russian by default); `code` is the stable key for programs.

**Idempotency**: send `Idempotency-Key: <unique string>` with `POST /jobs` and
`POST /variants/{id}/unlock` to repeat them safely.
"""


def build() -> FastAPI:
    """The API app (mount it at :data:`PREFIX`)."""
    app = FastAPI(
        title="LashMe API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        servers=[{"url": PREFIX}],
    )
    problems.install(app)
    app.include_router(router)
    return app
