"""Structured logs: one JSON object per line (structlog over the standard ``logging`` module).

Every record, from our code, RQ, SQLAlchemy or uvicorn, goes through the same
pipeline: context ids bound with ``structlog.contextvars`` (``request_id``,
``job_id``, ``user_id``) are merged in, secrets are redacted, then it is
rendered as JSON (``LASHME_LOG_FORMAT=json``, the default) or as readable
text (``console``).

Redaction: values of keys that name secrets (password, token, secret,
signature, authorization, ...) become ``"[redacted]"``, the query string
of any URL in a message or value (presigned/signed URLs carry their
signature there) is replaced by ``?[redacted]``, ``data:`` URIs (inline
photos) and providers' media URLs (the path is the capability) are dropped.
``httpx``/``httpcore``, which log every request URL at INFO, are set to WARNING.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset(
    {"password", "token", "secret", "signature", "authorization", "cookie", "fal_key", "api_key"}
)
_URL_QUERY = re.compile(r"((?:https?://|/files/)[^\s?\"'<>]+)\?[^\s\"'<>]*")
#: inline images (``data:image/jpeg;base64,...``): the whole payload goes
_DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+[^\s\"'<>,]*,[^\s\"'<>]*")
#: providers' media/result URLs carry their capability in the path (fal: ``v3.fal.media/files/<id>``)
_PROVIDER_URL = re.compile(r"(https?://(?:[\w-]+\.)*(?:fal\.media|fal\.run|fal\.ai))/[^\s\"'<>]*")
#: libraries that log every request's full URL at INFO
QUIET_LOGGERS = ("httpx", "httpcore")


def redact_text(text: str) -> str:
    """``text`` with URL query strings, ``data:`` URI payloads and provider media paths redacted.

    Query strings become ``?[redacted]``, a ``data:`` URI becomes
    ``data:[redacted]`` and a provider URL (``*.fal.media``, ``*.fal.run``,
    ``*.fal.ai``) keeps only its host: ``https://v3.fal.media/[redacted]``.
    """
    text = _DATA_URI.sub("data:[redacted]", text)
    text = _PROVIDER_URL.sub(r"\1/[redacted]", text)
    return _URL_QUERY.sub(r"\1?[redacted]", text)


def _is_sensitive(key: str) -> bool:
    k = key.lower()
    return any(s in k for s in SENSITIVE_KEYS)


def redact(_logger: Any, _method: str, event_dict: dict) -> dict:
    """Processor for structlog: drop secret values and URL query strings (see module docstring)."""
    for key, value in list(event_dict.items()):
        if _is_sensitive(key) and key not in ("event",):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def _processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


class StderrHandler(logging.StreamHandler):
    """A ``StreamHandler`` on whatever ``sys.stderr`` is when a record is written.

    A plain ``StreamHandler(sys.stderr)`` keeps the stream of the moment it was made: when
    ``sys.stderr`` is replaced later (pytest's capture, a host framework redirecting output),
    records keep going to the old one, and are lost.  Same idea as :data:`logging.lastResort`.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: ANN201 - a text stream
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001 - set by StreamHandler.__init__ and setStream
        pass


def configure(process: str, *, level: str | None = None, fmt: str | None = None, root: bool = True) -> None:
    """Route logging through structlog and render one JSON object per line on stderr.

    Args:
        process: name stored in every record (``worker``, ``app``, ``sweeper``, ``cli``).
        level: log level name (default ``LASHME_LOG_LEVEL``).
        fmt: ``json`` or ``console`` (default ``LASHME_LOG_FORMAT``).
        root: configure the root logger (every library); ``False`` configures only
            the ``lashme`` logger, leaving a host framework's own handlers alone.
    """
    from lashme.ops.settings import get_settings

    s = get_settings()
    level = (level or s.log_level).upper()
    fmt = fmt or s.log_format
    renderer = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = _processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = StderrHandler()
    handler.setFormatter(formatter)
    target = logging.getLogger() if root else logging.getLogger("lashme")
    for old in [h for h in target.handlers if getattr(h, "_lashme", False)]:
        target.removeHandler(old)
    handler._lashme = True  # type: ignore[attr-defined]
    target.addHandler(handler)
    target.setLevel(level)
    for name in QUIET_LOGGERS:  # full request URLs at INFO; their warnings still show
        logging.getLogger(name).setLevel(logging.WARNING)
    if not root:
        target.propagate = False
    structlog.contextvars.bind_contextvars(process=process)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger; keyword arguments become JSON fields."""
    return structlog.stdlib.get_logger(name)


class RequestIdMiddleware:
    """ASGI middleware: bind a ``request_id`` to every log record of an HTTP request.

    Uses the incoming ``X-Request-ID`` (up to 64 safe characters) or a new
    random id, and echoes it in the response's ``X-Request-ID`` header.

    Args:
        app: the ASGI app to wrap.
    """

    _SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

    def __init__(self, app) -> None:  # noqa: ANN001 - any ASGI app
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        """Run the request with ``request_id`` bound (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if self._SAFE.match(given) else uuid.uuid4().hex[:16]

        async def _send(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            await self.app(scope, receive, _send)
