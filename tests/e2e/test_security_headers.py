"""The built app under its CSP in Chromium: every page response carries the security headers, the
pages render and talk over the websocket with no CSP violation, a cross-origin websocket is refused."""

from __future__ import annotations

import websocket

PAGES = ["/", "/upload", "/login", "/signup", "/gallery"]
REQUIRED = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
)


def test_pages_have_the_headers_render_and_break_no_csp_rule(app_url, browser):
    page = browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    documents = []
    page.on("response", lambda r: documents.append(r) if r.request.resource_type == "document" else None)
    for path in PAGES:
        page.goto(app_url + path)
        page.wait_for_function("document.body && document.body.innerText.length > 50", timeout=30_000)
    # the login form works over the websocket under the CSP (server-sent state, no inline script)
    page.goto(app_url + "/login")
    page.fill("#email", "nobody@example.com")
    page.fill("#password", "Wrong1234")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=/Wrong email or password|Неверный/", timeout=30_000)
    assert violations == []
    assert documents
    for response in documents:
        headers = response.headers
        missing = [h for h in REQUIRED if h not in headers]
        assert not missing, (response.url, missing)
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert headers["x-frame-options"] == "DENY"
    # an injected inline script is blocked by the policy
    ran = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__x = 1';"
        " document.body.appendChild(s); return window.__x === 1; }"
    )
    assert ran is False
    page.close()


def test_a_websocket_from_another_origin_is_refused(app_url):
    endpoint = app_url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"
    try:
        websocket.create_connection(endpoint, origin="https://evil.example", timeout=10)
        refused = None
    except websocket.WebSocketBadStatusException as exc:
        refused = exc.status_code
    assert refused == 403
    own = websocket.create_connection(endpoint, origin=app_url, timeout=10)
    try:
        assert own.recv().startswith("0{")  # Engine.IO open packet
    finally:
        own.close()
