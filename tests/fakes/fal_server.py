"""A local stand-in for fal.ai's queue API over real HTTPS on loopback (tests and benchmarks only).

Speaks what ``fal_client`` 1.0.3 expects:

- ``POST /{endpoint_id}`` (``Authorization: Key …``) → ``{request_id, status_url, response_url, cancel_url}``
- ``GET /{owner}/{alias}/requests/{id}/status?logs=`` → ``IN_QUEUE`` (``queue_position``) /
  ``IN_PROGRESS`` (``logs``) / ``COMPLETED`` (``logs``, ``metrics``)
- ``GET /{owner}/{alias}/requests/{id}`` → FLUX output ``{images: [{url, content_type, width, height}],
  seed, has_nsfw_concepts, timings, prompt}``; images served by the stand-in under ``/cdn/``
- ``PUT /{owner}/{alias}/requests/{id}/cancel`` → 202 ``CANCELLATION_REQUESTED`` (400 once completed)
- ``GET /.well-known/jwks.json`` → the stand-in's Ed25519 webhook key; with ``?fal_webhook=`` on submit it
  POSTs a signed webhook there when the request completes.

Scriptable per test through :class:`Script` (latency, queue positions, error codes, NSFW flags,
malformed output, warped output).  The output image is the input photo (data URI) cropped to 3:4 and
warmed, so results are real photos; with ``output="warped"`` the centre is also magnified by a local
geometric warp (:func:`warp_centre`), what FLUX does when it redraws lashes or nails longer or thicker.  HTTPS uses a self-signed certificate for 127.0.0.1 (``cert_file``; give it
to clients as ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import httpx
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from PIL import Image, ImageOps


@dataclass
class Script:
    """What the stand-in does; change attributes between or during a test.

    Attributes:
        queue_time: seconds a request stays IN_QUEUE after submission.
        latency: seconds from submission to COMPLETED (includes ``queue_time``).
        queue_positions: positions reported by successive IN_QUEUE status answers (last one repeats).
        submit_errors: HTTP codes answered to the next submissions, one popped per POST.
        status_errors: HTTP codes answered to the next status polls, one popped per GET.
        nsfw: ``f(arguments) -> bool`` flags a request's outputs as NSFW.
        output: ``"ok"``, ``"bad_json"``, ``"image_404"``, ``"not_image"``, ``"no_nsfw_flags"``
            (``has_nsfw_concepts`` left out), ``"null_nsfw_flags"`` (``[null]``),
            ``"redirect_http"`` (images answer 302 to a plain-http address) or ``"warped"`` (the
            images of the requests ``warps(arguments)`` selects (default: all) reshape the centre:
            :func:`warp_centre` with ``warp_amount``; the others are the faithful output).
        warps: ``f(arguments) -> bool`` selects the requests warped by ``output="warped"``.
        warp_amount: largest displacement of the warp, as a fraction of the image's long side.
        completed_error: when set, COMPLETED carries this ``error`` (the app failed at fal) for the
            requests ``fails(arguments)`` selects (default: all).
    """

    queue_time: float = 0.0
    latency: float = 0.2
    queue_positions: list[int] = field(default_factory=lambda: [1, 0])
    submit_errors: list[int] = field(default_factory=list)
    status_errors: list[int] = field(default_factory=list)
    nsfw: Callable[[dict], bool] = lambda args: False
    output: str = "ok"
    completed_error: str | None = None
    fails: Callable[[dict], bool] = lambda args: True
    warps: Callable[[dict], bool] = lambda args: True
    warp_amount: float = 0.015


@dataclass
class FakeRequest:
    """One accepted submission."""

    request_id: str
    endpoint: str
    arguments: dict
    created: float
    webhook_url: str | None = None
    status_calls: int = 0
    canceled: bool = False
    webhook_sent: bool = False


class FalStandIn:
    """The stand-in server (a thread); use as a context manager.

    Attributes:
        url: ``https://127.0.0.1:{port}/`` (set ``fal_client.client.QUEUE_URL_FORMAT`` to it, or
            ``FAL_QUEUE_RUN_HOST=127.0.0.1:{port}`` in a new process).
        cert_file: PEM of the self-signed certificate (``SSL_CERT_FILE`` for clients).
        requests: accepted submissions by id, in order.
        posts: every submission attempt ``(status_code, authorization header)``.
        cancels: request ids a cancel was received for.
        webhook_key: Ed25519 private key that signs webhooks (public half served as JWKS).
    """

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests: dict[str, FakeRequest] = {}
        self.posts: list[tuple[int, str]] = []
        self.cancels: list[str] = []
        self.webhook_key = Ed25519PrivateKey.generate()
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="fal-standin-")
        self.cert_file = str(Path(self._tmp.name) / "cert.pem")
        key_file = str(Path(self._tmp.name) / "key.pem")
        _self_signed(self.cert_file, key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, key_file)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"https://{self.host}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FalStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()

    @property
    def accepted(self) -> int:
        """Number of submissions that created a request (what fal would bill)."""
        return len(self.requests)

    # -- behaviour -------------------------------------------------------------------------------

    def state(self, req: FakeRequest) -> str:
        """IN_QUEUE / IN_PROGRESS / COMPLETED from the elapsed time."""
        elapsed = time.monotonic() - req.created
        if req.canceled or elapsed >= self.script.latency:
            return "COMPLETED"
        return "IN_QUEUE" if elapsed < self.script.queue_time else "IN_PROGRESS"

    def output_image(self, req: FakeRequest) -> bytes:
        """The input photo cropped to 3:4 portrait and warmed (and warped when scripted), as JPEG."""
        src = req.arguments.get("image_url", "")
        if src.startswith("data:"):
            data = base64.b64decode(src.split(",", 1)[1])
        else:
            data = httpx.get(src, timeout=10).content
        img = Image.open(io.BytesIO(data)).convert("RGB")
        img = ImageOps.fit(img, (576, 768))
        r, g, b = img.split()
        img = Image.merge("RGB", (r.point(lambda v: min(255, v + 12)), g, b.point(lambda v: max(0, v - 10))))
        if self.script.output == "warped" and self.script.warps(req.arguments):
            img = warp_centre(img, self.script.warp_amount)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        return buf.getvalue()

    def sign_webhook(self, request_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """Headers of a fal webhook for ``body`` signed with :attr:`webhook_key`."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        user = "standin-user"
        msg = "\n".join([request_id, user, ts, hashlib.sha256(body).hexdigest()]).encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user,
            "X-Fal-Webhook-Timestamp": ts,
            "X-Fal-Webhook-Signature": self.webhook_key.sign(msg).hex(),
            "Content-Type": "application/json",
        }

    def jwks(self) -> dict:
        """The public webhook key as a JWKS."""
        raw = self.webhook_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "standin"}]}


def _handler(fake: FalStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, code: int, body: bytes | dict, ctype: str = "application/json") -> None:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-fal-request-id", "standin")
            self.end_headers()
            self.wfile.write(data)

        def _base(self, req: FakeRequest) -> str:
            owner, alias = req.endpoint.split("/")[:2]
            return f"{fake.url}{owner}/{alias}/requests/{req.request_id}"

        def _find(self, path: str) -> tuple[FakeRequest | None, str]:
            parts = path.strip("/").split("/")
            if len(parts) >= 4 and parts[2] == "requests":
                return fake.requests.get(parts[3]), "/".join(parts[4:])
            return None, ""

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            auth = self.headers.get("Authorization", "")
            with fake._lock:
                code = fake.script.submit_errors.pop(0) if fake.script.submit_errors else 200
                if not auth.startswith("Key "):
                    code = 401
                fake.posts.append((code, auth))
                if code != 200:
                    return self._send(code, {"detail": f"stand-in error {code}"})
                req = FakeRequest(
                    request_id=str(uuid.uuid4()),
                    endpoint=url.path.strip("/"),
                    arguments=json.loads(body),
                    created=time.monotonic(),
                    webhook_url=parse_qs(url.query).get("fal_webhook", [None])[0],
                )
                fake.requests[req.request_id] = req
            base = self._base(req)
            self._send(
                200,
                {
                    "request_id": req.request_id,
                    "status_url": base + "/status",
                    "response_url": base,
                    "cancel_url": base + "/cancel",
                },
            )

        def do_PUT(self) -> None:  # noqa: N802
            req, rest = self._find(urlsplit(self.path).path)
            if req is None or rest != "cancel":
                return self._send(404, {"detail": "not found"})
            fake.cancels.append(req.request_id)
            if fake.state(req) == "COMPLETED":
                return self._send(400, {"status": "ALREADY_COMPLETED"})
            req.canceled = True
            self._send(202, {"status": "CANCELLATION_REQUESTED"})

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/.well-known/jwks.json":
                return self._send(200, fake.jwks())
            if url.path.startswith("/cdn/"):
                return self._cdn(url.path[len("/cdn/") :])
            req, rest = self._find(url.path)
            if req is None:
                return self._send(404, {"detail": "Request not found"})
            if rest == "status":
                return self._status(req)
            if rest == "":
                return self._result(req)
            self._send(404, {"detail": "not found"})

        def _status(self, req: FakeRequest) -> None:
            with fake._lock:
                if fake.script.status_errors:
                    return self._send(fake.script.status_errors.pop(0), {"detail": "stand-in status error"})
                req.status_calls += 1
            state = fake.state(req)
            if state == "IN_QUEUE":
                positions = fake.script.queue_positions or [0]
                pos = positions[min(req.status_calls - 1, len(positions) - 1)]
                return self._send(200, {"status": "IN_QUEUE", "queue_position": pos})
            if state == "IN_PROGRESS":
                return self._send(200, {"status": "IN_PROGRESS", "logs": []})
            body = {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": fake.script.latency}}
            if req.canceled:
                body.update(error="Request cancelled", error_type="request_cancelled")
            elif fake.script.completed_error and fake.script.fails(req.arguments):
                body.update(error=fake.script.completed_error, error_type="runner_error")
            self._send(200, body)
            self._maybe_webhook(req)

        def _output(self, req: FakeRequest) -> dict:
            n = int(req.arguments.get("num_images", 1))
            nsfw = bool(fake.script.nsfw(req.arguments))
            body = {
                "images": [
                    {
                        "url": f"{fake.url}cdn/{req.request_id}-{i}.jpg",
                        "content_type": "image/jpeg",
                        "width": 576,
                        "height": 768,
                    }
                    for i in range(n)
                ],
                "seed": 42,
                "has_nsfw_concepts": [nsfw] * n,
                "timings": {"inference": fake.script.latency},
                "prompt": req.arguments.get("prompt", ""),
            }
            if fake.script.output == "no_nsfw_flags":
                del body["has_nsfw_concepts"]
            elif fake.script.output == "null_nsfw_flags":
                body["has_nsfw_concepts"] = [None] * n
            return body

        def _result(self, req: FakeRequest) -> None:
            if fake.state(req) != "COMPLETED":
                return self._send(400, {"detail": "Request is still in progress"})
            if fake.script.output == "bad_json":
                return self._send(200, b'{"images": [{"url": ', "application/json")
            self._send(200, self._output(req))

        def _cdn(self, name: str) -> None:
            req = fake.requests.get(name.rsplit("-", 1)[0])
            if req is None or fake.script.output == "image_404":
                return self._send(404, {"detail": "gone"})
            if fake.script.output == "not_image":
                return self._send(200, b"<html>not an image</html>", "image/jpeg")
            if fake.script.output == "redirect_http":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/cdn/{name}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self._send(200, fake.output_image(req), "image/jpeg")

        def _maybe_webhook(self, req: FakeRequest) -> None:
            if not req.webhook_url or req.webhook_sent:
                return
            req.webhook_sent = True
            body = json.dumps(
                {"request_id": req.request_id, "status": "OK", "payload": self._output(req)}
            ).encode()
            headers = fake.sign_webhook(req.request_id, body)
            threading.Thread(
                target=lambda: httpx.post(req.webhook_url, content=body, headers=headers, timeout=10),
                daemon=True,
            ).start()

    return Handler


def warp_centre(img: Image.Image, amount: float = 0.015, radius: float = 0.18) -> Image.Image:
    """Magnify the centre of ``img`` with a smooth local warp: structures there get longer and thicker.

    A Gaussian-weighted radial displacement (sigma ``radius`` x the long side, centred) pulls
    every output pixel's source toward the centre; the largest displacement is ``amount`` x the
    long side (at distance ``radius`` from the centre), and the edges of the frame stay put.  It
    imitates a generative model redrawing the work (lashes extended, nails reshaped) without
    touching colour or light.

    Args:
        img: RGB image.
        amount: largest displacement as a fraction of the long side (0.015 = 11.5 px at 768 px).
        radius: size of the warped region as a fraction of the long side.

    Returns:
        A new RGB image of the same size.
    """
    arr = np.asarray(img.convert("RGB"))
    h, w = arr.shape[:2]
    side = float(max(h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - (w - 1) / 2) / side, (yy - (h - 1) / 2) / side
    # displacement k*r peaks at r = radius with value amount (side units)
    k = (amount / radius) * np.exp(0.5 - (u * u + v * v) / (2 * radius * radius))
    map_x = (xx - k * u * side).astype(np.float32)
    map_y = (yy - k * v * side).astype(np.float32)
    return Image.fromarray(cv2.remap(arr, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))


def _self_signed(cert_file: str, key_file: str) -> None:
    """Write a self-signed certificate for 127.0.0.1 / localhost and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fal stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    Path(cert_file).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(key_file).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
