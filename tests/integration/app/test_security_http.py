"""The backend's ASGI guard (``lashme.ops.http.guard.protect``): security headers and CSP hashes, origin checks
for requests and websockets, body caps before reading, and the upload throttle."""

from __future__ import annotations

import base64
import gzip
import hashlib

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from lashme.ops.http import csp, guard, limits, origins
from lashme.ops.settings import get_settings

PAGE = (
    b"<!DOCTYPE html><html><head><script>window.a=1;</script>"
    b'<script type="module" async="">import "/assets/x.js";</script>'
    b'<script src="/assets/app.js"></script></head><body><div id="root"></div>'
    b'<script>$RC("B:1","S:1")</script></body></html>'
)
read_bytes = {"n": 0}


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"etag": '"page-1"'})


async def gz_page(request: Request) -> Response:
    return Response(
        gzip.compress(PAGE),
        media_type="text/html",
        headers={"content-encoding": "gzip", "etag": '"page-gz"'},
    )


async def api(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def own_header(request: Request) -> Response:
    return PlainTextResponse("x", headers={"Referrer-Policy": "no-referrer"})


async def upload(request: Request) -> Response:
    async for chunk in request.stream():
        read_bytes["n"] += len(chunk)
    return PlainTextResponse("stored")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def _client(**kw) -> TestClient:
    app = Starlette(
        routes=[
            Route("/", page),
            Route("/gz", gz_page),
            Route("/api/v1/me", api, methods=["GET", "POST"]),
            Route("/own", own_header),
            Route("/_upload", upload, methods=["POST"]),
            Route("/api/v1/uploads", upload, methods=["POST"]),
            WebSocketRoute("/_event", echo),
        ]
    )
    return TestClient(guard.protect(app), base_url="http://lashme.test", **kw)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, clean_db):
    monkeypatch.delenv("LASHME_PUBLIC_URL", raising=False)
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    get_settings.cache_clear()
    csp.hash_cache.data.clear()
    read_bytes["n"] = 0
    yield
    get_settings.cache_clear()


def _sha(script: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/", "/gz"])
def test_pages_get_a_csp_with_hashes_of_their_inline_scripts_and_no_unsafe_inline(path):
    resp = _client().get(path)
    assert resp.status_code == 200 and resp.content == PAGE
    csp = _directives(resp.headers["content-security-policy"])
    scripts = csp["script-src"]
    for inline in (b"window.a=1;", b'import "/assets/x.js";', b'$RC("B:1","S:1")'):
        assert _sha(inline) in scripts
    assert "'unsafe-inline'" not in scripts and "'self'" in scripts
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert "ws://lashme.test" in csp["connect-src"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in resp.headers["permissions-policy"]
    assert "strict-transport-security" not in resp.headers  # plain http
    again = _client().get(path)  # served from the ETag cache: same policy
    assert again.headers["content-security-policy"] == resp.headers["content-security-policy"]


def test_api_responses_get_a_deny_all_csp_and_routes_keep_their_own_headers():
    client = _client()
    resp = client.get("/api/v1/me")
    assert resp.headers["content-security-policy"].startswith("default-src 'none'")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert client.get("/own").headers["referrer-policy"] == "no-referrer"


def test_hsts_and_wss_only_behind_https():
    resp = _client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert resp.headers["strict-transport-security"].startswith("max-age=31536000")
    csp = _directives(resp.headers["content-security-policy"])
    assert "wss://lashme.test" in csp["connect-src"] and "upgrade-insecure-requests" in csp


def test_cross_origin_state_changes_are_refused_and_same_origin_passes():
    client = _client()
    assert client.post("/api/v1/me", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/v1/me", headers={"Origin": "null"}).status_code == 403
    assert client.post("/api/v1/me", headers={"Origin": "http://lashme.test"}).status_code == 200
    assert client.post("/api/v1/me").status_code == 200  # no Origin: a server-to-server call
    assert client.get("/api/v1/me", headers={"Origin": "https://evil.example"}).status_code == 200


def test_with_a_public_url_only_that_origin_counts(monkeypatch):
    monkeypatch.setenv("LASHME_PUBLIC_URL", "https://lashme.app/")
    get_settings.cache_clear()
    assert origins.cors_origins() == ["https://lashme.app"]
    client = _client()
    assert client.post("/api/v1/me", headers={"Origin": "https://lashme.app"}).status_code == 200
    assert client.post("/api/v1/me", headers={"Origin": "http://lashme.test"}).status_code == 403


def test_dev_mode_allows_the_dev_frontend(monkeypatch):
    monkeypatch.setenv("REFLEX_ENV_MODE", "dev")
    assert origins.cors_origins() == ["http://localhost:3000"]
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    assert origins.cors_origins() == []


def test_websocket_from_another_origin_is_refused():
    client = _client()
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/_event", headers={"Origin": "https://evil.example"}) as ws:
            ws.receive_text()
    assert refused.value.code == 1008
    # (the test client always sends Host: testserver on websockets)
    with client.websocket_connect("/_event", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_text() == "hello"


def test_declared_oversize_upload_is_refused_before_a_byte_is_read():
    cap = get_settings().max_upload_bytes + limits.UPLOAD_OVERHEAD
    resp = _client().post(
        "/_upload",
        content=b"x" * (cap + 1),
        headers={"Accept-Language": "ru", "Content-Type": "multipart/form-data"},
    )
    assert resp.status_code == 413
    assert "МБ" in resp.text
    assert read_bytes["n"] == 0
    assert resp.headers["x-frame-options"] == "DENY"


def test_streamed_oversize_upload_is_cut_at_the_cap():
    cap = get_settings().max_upload_bytes + limits.UPLOAD_OVERHEAD

    def body():
        for _ in range(300):  # 300 MiB offered, without a Content-Length
            yield b"x" * (1024 * 1024)

    resp = _client().post("/_upload", content=body())
    assert resp.status_code == 413
    assert read_bytes["n"] <= cap


def test_other_requests_are_capped_at_one_mebibyte():
    client = _client()
    assert client.post("/api/v1/me", content=b"{}" * (limits.BODY_CAP // 2 + 1)).status_code == 413
    assert client.post("/api/v1/me", content=b"{}").status_code == 200
    # a multipart body under /api/ is an upload: the photo cap applies
    big_form = b"x" * (2 * 1024 * 1024)
    resp = client.post(
        "/api/v1/uploads", content=big_form, headers={"Content-Type": "multipart/form-data; b=1"}
    )
    assert resp.status_code == 200


def test_uploads_are_throttled_per_ip_before_reading(monkeypatch):
    monkeypatch.setattr(guard.throttle, "UPLOAD_RATE", "5/minute")
    client = _client()
    codes = [client.post("/_upload", content=b"tiny").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    assert read_bytes["n"] == 5 * len(b"tiny")
    refused = client.post("/_upload", content=b"tiny")
    assert int(refused.headers["retry-after"]) >= 60


def test_pages_sent_with_the_servers_pathsend_extension_are_hashed_too(tmp_path):
    """Granian offers ``http.response.pathsend``: Starlette's FileResponse then sends a path, not bytes."""
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    page_file = tmp_path / "index.html"
    page_file.write_bytes(PAGE)

    async def app(scope, receive, send):
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"p"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(page_file)})

    messages = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"host", b"lashme.test")],
        "extensions": {"http.response.pathsend": {}},
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    for _ in range(2):  # the second time the hashes come from the cache: still bytes, not a path
        messages.clear()
        # in a thread of its own: a session-scoped Playwright browser (e2e) may own this thread's event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(anyio.run, guard.protect(app), scope, receive, send).result()
        assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
        csp = dict(messages[0]["headers"])[b"content-security-policy"].decode()
        assert _sha(b"window.a=1;") in csp
        assert messages[1]["body"] == PAGE
