"""A loopback stand-in for the slice of Stripe LashMe uses, driven by the real ``stripe`` library.

Serves over real HTTP on 127.0.0.1:

- ``POST /v1/checkout/sessions`` (form-encoded, bracket notation as the
  ``stripe`` library sends it; honours ``Idempotency-Key``; requires
  ``Authorization: Bearer sk_…``) → a ``checkout.session`` object;
- ``GET /v1/checkout/sessions/{id}`` → the session, or Stripe's error shape with 404;
- ``GET /pay/{id}``: a hosted-checkout page with a "Pay" button;
  ``POST /pay/{id}`` pays, delivers a signed ``checkout.session.completed``
  webhook to ``webhook_url`` and redirects (303) to the ``success_url``.

Tests can also build and deliver events themselves (:meth:`event`,
:meth:`deliver`), signed with ``stripe.WebhookSignature.generate_signature_header``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx
import stripe

API_KEY = "sk_test_lashme_standin"
WEBHOOK_SECRET = "whsec_lashme_standin_secret"


def parse_form(body: str) -> dict:
    """Decode Stripe's form encoding (``a[b][0][c]=v``) into nested dicts/lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class StripeStandIn:
    """Run with ``with StripeStandIn() as s:``; ``s.base_url`` is the API base for ``STRIPE_API_BASE``.

    Attributes:
        sessions: Checkout Sessions by id (plain dicts, Stripe's field names).
        requests: every API request received: ``(method, path, headers, params)``.
        webhook_url: where :meth:`deliver` and the pay page send events (None = nowhere).
        webhook_responses: ``(event_id, status_code)`` of every delivery.
    """

    def __init__(self, webhook_url: str | None = None, secret: str = WEBHOOK_SECRET) -> None:
        self.webhook_url = webhook_url
        self.secret = secret
        self.sessions: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.webhook_responses: list[tuple[str, int]] = []
        self._idem: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StripeStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- objects and events -------------------------------------------------------------------

    def create_session(self, params: dict) -> dict:
        """Make a ``checkout.session`` from create params (as the API does)."""
        sid = f"cs_test_{secrets.token_hex(12)}"
        items = params.get("line_items") or []
        amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
        cs = {
            "id": sid,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": items[0]["price_data"]["currency"] if items else "usd",
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "payment_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url}/pay/{sid}",
            "livemode": False,
            "created": int(time.time()),
            "_payment_intent_metadata": (params.get("payment_intent_data") or {}).get("metadata") or {},
        }
        with self._lock:
            self.sessions[sid] = cs
        return cs

    def public(self, cs: dict) -> dict:
        """The session as the API returns it (without stand-in bookkeeping)."""
        return {k: v for k, v in cs.items() if not k.startswith("_")}

    def pay(self, sid: str, *, delayed: bool = False) -> dict:
        """Complete the session: paid now, or (``delayed``) completed but awaiting a bank payment."""
        cs = self.sessions[sid]
        cs["status"] = "complete"
        cs["payment_intent"] = cs["payment_intent"] or f"pi_test_{secrets.token_hex(10)}"
        cs["payment_status"] = "unpaid" if delayed else "paid"
        return self.public(cs)

    def event(self, type_: str, obj: dict, *, event_id: str | None = None) -> dict:
        """A Stripe ``event`` object wrapping ``obj``."""
        return {
            "id": event_id or f"evt_test_{secrets.token_hex(12)}",
            "object": "event",
            "type": type_,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27.acacia",
            "data": {"object": obj},
        }

    def refund_charge(self, sid: str, amount_refunded: int) -> dict:
        """The ``charge`` object of a paid session after refunds totalling ``amount_refunded``."""
        cs = self.sessions[sid]
        return {
            "id": f"ch_test_{cs['payment_intent'][8:]}",
            "object": "charge",
            "amount": cs["amount_total"],
            "amount_refunded": amount_refunded,
            "refunded": amount_refunded >= cs["amount_total"],
            "payment_intent": cs["payment_intent"],
            "currency": cs["currency"],
            "metadata": dict(cs["_payment_intent_metadata"]),
        }

    def dispute(self, sid: str) -> dict:
        """A ``dispute`` object (chargeback) for a paid session's charge."""
        cs = self.sessions[sid]
        return {
            "id": f"dp_test_{secrets.token_hex(8)}",
            "object": "dispute",
            "amount": cs["amount_total"],
            "charge": f"ch_test_{cs['payment_intent'][8:]}",
            "payment_intent": cs["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }

    def sign(self, payload: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload`` (Stripe's v1 HMAC-SHA256 scheme)."""
        return stripe.WebhookSignature.generate_signature_header(
            payload, secret or self.secret, timestamp=timestamp or int(time.time())
        )

    def deliver(self, event: dict, *, url: str | None = None, signature: str | None = None) -> httpx.Response:
        """POST ``event`` to the webhook URL, signed unless ``signature`` is given."""
        payload = json.dumps(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature or self.sign(payload),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        r = httpx.post(url or self.webhook_url, content=payload, headers=headers, timeout=30)
        with self._lock:
            self.webhook_responses.append((event["id"], r.status_code))
        return r

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body, content_type="application/json", headers=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, type_="invalid_request_error"):
                self._send(status, {"error": {"type": type_, "message": message}})

            def _body(self) -> str:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n).decode() if n else ""

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self._error(401, "Invalid API Key provided", "authentication_error")
                    return False
                return True

            def do_GET(self):
                path = urlsplit(self.path).path
                if m := re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path):
                    standin.requests.append(("GET", path, dict(self.headers), {}))
                    if not self._authorized():
                        return
                    cs = standin.sessions.get(m.group(1))
                    if cs is None:
                        return self._error(404, f"No such checkout.session: '{m.group(1)}'")
                    return self._send(200, standin.public(cs))
                if m := re.fullmatch(r"/pay/([\w]+)", path):
                    cs = standin.sessions.get(m.group(1))
                    if cs is None:
                        return self._send(404, b"no such session", "text/plain")
                    html = (
                        "<!doctype html><html><body><h1>Stand-in Checkout</h1>"
                        f"<p id='amount'>{cs['amount_total'] / 100:.2f} {cs['currency'].upper()}</p>"
                        f"<form method='post' action='/pay/{cs['id']}'>"
                        "<button id='pay' type='submit'>Pay</button></form>"
                        f"<a id='cancel' href='{cs['cancel_url']}'>Cancel</a></body></html>"
                    )
                    return self._send(200, html.encode(), "text/html; charset=utf-8")
                self._error(404, "Unrecognized request URL")

            def do_POST(self):
                path = urlsplit(self.path).path
                body = self._body()
                if path == "/v1/checkout/sessions":
                    params = parse_form(body)
                    standin.requests.append(("POST", path, dict(self.headers), params))
                    if not self._authorized():
                        return
                    key = self.headers.get("Idempotency-Key")
                    with standin._lock:
                        cached = standin._idem.get(key) if key else None
                    if cached is None:
                        cached = standin.create_session(params)
                        if key:
                            with standin._lock:
                                standin._idem[key] = cached
                    return self._send(200, standin.public(cached))
                if m := re.fullmatch(r"/pay/([\w]+)", path):
                    cs = standin.sessions.get(m.group(1))
                    if cs is None:
                        return self._send(404, b"no such session", "text/plain")
                    obj = standin.pay(cs["id"])
                    if standin.webhook_url:
                        standin.deliver(standin.event("checkout.session.completed", obj))
                    target = cs["success_url"].replace("{CHECKOUT_SESSION_ID}", cs["id"])
                    return self._send(303, b"", "text/plain", headers={"Location": target})
                self._error(404, "Unrecognized request URL")

        return Handler
