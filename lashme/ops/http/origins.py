"""Which origins are the app's own: CORS origins, the Origin check, and whether the browser came over https.

The app's own origin is ``LASHME_PUBLIC_URL`` when set, else the request's own ``Host``
(same-origin); in Reflex dev mode the dev frontend (``http://localhost:3000``) counts too.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from lashme.ops.http.asgi import Scope, header
from lashme.ops.settings import get_settings


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of ``url`` (lower-case), or None when it has no scheme and host."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def dev_mode() -> bool:
    """True unless Reflex runs in prod mode (``REFLEX_ENV_MODE``, default ``dev``)."""
    return os.environ.get("REFLEX_ENV_MODE", "dev").lower() != "prod"


def cors_origins() -> list[str]:
    """Origins allowed to make credentialed cross-origin requests (``rxconfig.cors_allowed_origins``).

    ``LASHME_PUBLIC_URL``'s origin when set, plus, in Reflex dev mode, the dev frontend
    (``REFLEX_DEPLOY_URL``, default ``http://localhost:3000``), whose pages talk to the
    backend on another port.  Empty otherwise: the app is then same-origin only, and the
    Origin checks of :func:`lashme.ops.http.guard.protect` compare with the request's ``Host``.
    """
    found = []
    public = origin_of(get_settings().public_url)
    if public:
        found.append(public)
    if dev_mode():
        dev = origin_of(os.environ.get("REFLEX_DEPLOY_URL") or "http://localhost:3000")
        if dev and dev not in found:
            found.append(dev)
    return found


def is_https(scope: Scope) -> bool:
    """True when the browser reached us over https (directly or through a proxy's ``X-Forwarded-Proto``)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    forwarded = (header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    if forwarded == "https":
        return True
    public = get_settings().public_url or ""
    return public.startswith("https://") and header(scope, b"host") == urlsplit(public).netloc


def origin_allowed(origin: str | None, scope: Scope) -> bool:
    """Whether a browser request with ``Origin: origin`` comes from the app itself.

    No ``Origin`` (a non-browser client or a same-origin GET) is allowed; ``null`` is not.
    With ``LASHME_PUBLIC_URL`` set only that origin (and the dev frontend in dev mode)
    counts; without it the origin's host must equal the request's ``Host`` header
    (compared without the scheme, which a TLS-terminating proxy changes).
    """
    if origin is None:
        return True
    own = cors_origins()
    normalized = origin_of(origin)
    if normalized is None:
        return False
    if normalized in own:
        return True
    if get_settings().public_url:
        return False
    host = (header(scope, b"host") or "").lower()
    return bool(host) and urlsplit(normalized).netloc == host
