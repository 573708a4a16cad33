"""RFC 9457 problem details (``application/problem+json``) for every API error.

https://www.rfc-editor.org/rfc/rfc9457 — members ``type``, ``title``, ``status``, ``detail``,
``instance``; we add ``code`` (the stable catalog key, for programs) and, for validation
errors, ``errors`` (FastAPI's list).  ``title``/``detail`` are in the caller's language
(``Accept-Language``, else Russian).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from lashme import i18n
from lashme.accounts.throttle import Throttled
from lashme.errors import AuthError, DomainError, InsufficientCredits, LinkInvalid, NotFound, UploadRejected

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://lashme.app/problems/"

#: HTTP status per domain error class (checked in order; DomainError itself is 400)
_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Throttled, 429),
    (NotFound, 404),
    (InsufficientCredits, 402),
    (UploadRejected, 422),
    (LinkInvalid, 403),
    (AuthError, 403),
)
_HTTP_KEYS = {
    400: "api.bad_request",
    401: "api.unauthorized",
    403: "api.forbidden",
    404: "api.not_found",
    405: "api.method_not_allowed",
    409: "api.conflict",
    413: "api.too_large",
    422: "api.invalid",
    429: "throttle.too_many",
}


class ApiProblem(Exception):
    """An API-level refusal (not a domain error): bad token, missing scope, idempotency conflict.

    Args:
        status: HTTP status code.
        key: catalog message key for ``detail``.
        headers: extra response headers (e.g. ``WWW-Authenticate``).
    """

    def __init__(self, status: int, key: str, *, headers: dict[str, str] | None = None, **params: Any):
        super().__init__(key)
        self.status, self.key, self.headers, self.params = status, key, headers or {}, params


def request_locale(request: Request) -> str:
    """The language of a request's messages: ``Accept-Language`` negotiated; Russian without one."""
    header = request.headers.get("accept-language", "").strip()
    return i18n.negotiate(header) if header else "ru"


def problem(
    request: Request, status: int, key: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response for ``key`` in the request's language."""
    locale = request_locale(request)
    params = extra.pop("params", {})
    body = {
        "type": TYPE_BASE + key.replace(".", "-").replace("_", "-"),
        "title": i18n.translate(_HTTP_KEYS.get(status, "api.bad_request"), locale),
        "status": status,
        "detail": i18n.translate(key, locale, **params),
        "instance": request.url.path,
        "code": key,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: statuses of particular keys (before the class table)
_KEY_STATUS = {
    "api.idempotency_key_reused": 409,
    "variant.not_ready": 409,  # e.g. the full-size file is still being rendered: retry later
    "variant.altered": 409,  # the fidelity guard found the work reshaped: never offered
    "auth.required": 401,
    "auth.blocked": 403,
}


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error."""
    if exc.key in _KEY_STATUS:
        return _KEY_STATUS[exc.key]
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def install(app: FastAPI) -> None:
    """Register problem+json handlers for domain errors, API problems, HTTP and validation errors."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = status_for(exc)
        headers = None
        if status == 429:
            headers = {"Retry-After": str(60 * int(exc.params.get("minutes", 1)))}
        elif exc.key == "variant.not_ready":
            headers = {"Retry-After": "2"}
        return problem(request, status, exc.key, headers=headers, params=exc.params)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(request, exc.status, exc.key, headers=exc.headers, params=exc.params)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(request, exc.status_code, _HTTP_KEYS.get(exc.status_code, "api.bad_request"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return problem(request, 422, "api.invalid", errors=errors)
