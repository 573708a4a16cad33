r"""fal webhook endpoint ``POST /fal/webhook``: Ed25519-verified, deduplicated on ``request_id``.

Verification (fal's documented scheme): headers ``X-Fal-Webhook-Request-Id``,
``-User-Id``, ``-Timestamp`` (unix seconds) and ``-Signature`` (hex); the
signed message is ``request_id "\n" user_id "\n" timestamp "\n"
sha256_hex(body)`` (UTF-8), verified against any Ed25519 key (JWK ``kty=OKP``,
``crv=Ed25519``, base64url ``x``) of the JWKS at ``fal_jwks_url``.  Keys are
cached for at most 24 h (``fal_jwks_ttl``), re-fetched once early when a
signature does not verify (key rotation).  Timestamps more than 300 s away from
now are rejected.

A webhook only speeds things up: the worker polls every request anyway, so a
lost webhook never leaves a job stuck.  The first verified delivery for a
request id records a ``provider_webhook`` job event and, when the job is
waiting for a retry, queues it at once; repeats are acknowledged and ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.models import Job, JobStatus, ProviderRequest, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
MAX_JWKS_AGE_S = 24 * 3600
_REFRESH_AFTER_S = 60  # an unverifiable signature triggers a re-fetch if the keys are older than this
_lock = threading.Lock()
_cache: dict = {"keys": [], "fetched": float("-inf"), "url": None}


class WebhookRejected(Exception):
    """The request is not a valid, fresh, signed fal webhook (answered 401)."""


def _fetch_keys(url: str) -> list[Ed25519PublicKey]:
    """Download the JWKS and return its Ed25519 keys.

    Raises:
        WebhookRejected: the JWKS cannot be fetched or holds no Ed25519 key.
    """
    try:
        resp = httpx.get(url, timeout=10)
        resp.raise_for_status()
        jwks = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise WebhookRejected(f"cannot fetch JWKS: {exc!r}") from exc
    keys = []
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and jwk.get("x"):
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
    if not keys:
        raise WebhookRejected("JWKS has no Ed25519 key")
    return keys


def public_keys(*, max_age: float | None = None) -> list[Ed25519PublicKey]:
    """The cached JWKS keys, fetched again when older than ``max_age`` seconds (<= 24 h).

    Raises:
        WebhookRejected: the JWKS cannot be fetched.
    """
    s = get_settings()
    ttl = min(s.fal_jwks_ttl, MAX_JWKS_AGE_S) if max_age is None else max_age
    with _lock:
        stale = _cache["url"] != s.fal_jwks_url or time.monotonic() - _cache["fetched"] > ttl
        if stale:
            _cache.update(keys=_fetch_keys(s.fal_jwks_url), fetched=time.monotonic(), url=s.fal_jwks_url)
        return list(_cache["keys"])


def clear_key_cache() -> None:
    """Forget the cached JWKS (tests, key rotation by hand)."""
    with _lock:
        _cache.update(keys=[], fetched=float("-inf"), url=None)


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The bytes fal signs: request id, user id, timestamp and sha256_hex(body), joined by newlines."""
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


def verify(headers, body: bytes, *, now: float | None = None) -> str:
    """Check a webhook's signature and timestamp.

    Args:
        headers: request headers (case-insensitive mapping).
        body: the raw request body.
        now: current unix time (default ``time.time()``).

    Returns:
        The verified ``X-Fal-Webhook-Request-Id``.

    Raises:
        WebhookRejected: a header is missing, the timestamp is more than
            300 s off, no key verifies the signature, or the signed user id is
            not ``LASHME_FAL_USER_ID`` (when that is set).
    """
    request_id = headers.get("x-fal-webhook-request-id", "")
    user_id = headers.get("x-fal-webhook-user-id", "")
    timestamp = headers.get("x-fal-webhook-timestamp", "")
    signature = headers.get("x-fal-webhook-signature", "")
    if not (request_id and user_id and timestamp and signature):
        raise WebhookRejected("missing webhook headers")
    try:
        skew = abs((time.time() if now is None else now) - int(timestamp))
        sig = bytes.fromhex(signature)
    except ValueError:
        raise WebhookRejected("malformed timestamp or signature") from None
    if skew > MAX_SKEW_S:
        raise WebhookRejected(f"timestamp {skew:.0f}s off")
    ours = get_settings().fal_user_id
    if ours and not hmac.compare_digest(user_id, ours):
        raise WebhookRejected("webhook for another fal account")
    message = signed_message(request_id, user_id, timestamp, body)
    if _verifies(public_keys(), sig, message):
        return request_id
    if _cache_age() > _REFRESH_AFTER_S and _verifies(public_keys(max_age=0), sig, message):
        return request_id
    raise WebhookRejected("bad signature")


def _verifies(keys: list[Ed25519PublicKey], sig: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(sig, message)
            return True
        except InvalidSignature:
            continue
    return False


def _cache_age() -> float:
    with _lock:
        return time.monotonic() - _cache["fetched"]


def record_webhook(request_id: str, payload: dict, *, engine: Engine | None = None) -> str:
    """Record the first delivery for ``request_id``.

    Returns:
        ``"recorded"``, ``"duplicate"`` (seen before) or ``"unknown"`` (no such request).
    """
    with session_scope(engine) as s:
        first = s.execute(
            update(ProviderRequest)
            .where(ProviderRequest.request_id == request_id, ProviderRequest.webhook_at.is_(None))
            .values(webhook_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        row = s.execute(
            select(ProviderRequest.job_id, Job.status)
            .join(Job, Job.id == ProviderRequest.job_id)
            .where(ProviderRequest.request_id == request_id)
        ).first()
        if row is None:
            return "unknown"
        if not first:
            return "duplicate"
        job_id, status = row
        jobs.add_event(
            s,
            job_id,
            kind="provider_webhook",
            message=str(payload.get("status", ""))[:32],
            data={"request_id": request_id, "status": payload.get("status")},
        )
    if status == JobStatus.PENDING:
        try:
            queue.enqueue_generation(job_id)
        except Exception:  # noqa: BLE001 - polling/retries finish it anyway
            log.warning("webhook could not queue job %s", job_id, exc_info=True)
    return "recorded"


async def fal_webhook(request: Request) -> Response:
    """Starlette endpoint: 401 for an invalid webhook, else 200 ``{"result": ...}``."""
    body = await request.body()
    try:
        request_id = await run_in_threadpool(verify, request.headers, body)
    except WebhookRejected as exc:
        log.warning("fal webhook rejected: %s", exc)
        return JSONResponse({"error": "invalid webhook"}, status_code=401)
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    result = await run_in_threadpool(record_webhook, request_id, payload if isinstance(payload, dict) else {})
    return JSONResponse({"result": result})
