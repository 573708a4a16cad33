"""How much a request body may carry, and which requests are photo uploads (capped and throttled as such)."""

from __future__ import annotations

from lashme.ops.http.asgi import Scope, header

#: bytes a multipart upload may carry beyond the photo itself (boundaries, part headers, event args)
UPLOAD_OVERHEAD = 64 * 1024
#: bytes any other request body may carry (JSON, webhooks)
BODY_CAP = 1024 * 1024
#: exact paths that take photo uploads (Reflex's upload endpoint)
UPLOAD_PATHS = frozenset({"/_upload"})
#: path prefixes where a multipart or image body counts as an upload (the REST API)
UPLOAD_PREFIXES = ("/api/",)


def is_upload(scope: Scope) -> bool:
    """True for a photo upload: Reflex's upload path, or a multipart/image/octet-stream body in ``/api/``."""
    path = scope.get("path", "")
    if path in UPLOAD_PATHS:
        return True
    if path.startswith(UPLOAD_PREFIXES):
        ctype = (header(scope, b"content-type") or "").lower()
        return ctype.startswith(("multipart/", "image/", "application/octet-stream"))
    return False
