"""``Idempotency-Key`` for API writes: the first answer is remembered and replayed.

Without the header a write simply runs.  With it, the request's fingerprint (SHA-256 of the
operation and body) is checked against a remembered answer (:mod:`lashme.app.idempotency`):
same key and request → the same status and JSON, without running the write again; same key,
another request → 409 problem.  Domain refusals are not remembered (the client may fix and retry).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from lashme.app import idempotency
from lashme.app.caller import Caller


def fingerprint(operation: str, body: bytes) -> str:
    """SHA-256 hex of an operation name (``"POST /jobs"``) and the request body."""
    h = hashlib.sha256(operation.encode())
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()


def run_idempotent(
    caller: Caller,
    key: str | None,
    operation: str,
    body: bytes,
    run: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any]]:
    """Run ``run()`` once per ``key``; returns ``(status, json)``, replayed for a repeated key.

    Raises:
        DomainError: ``api.idempotency_key_invalid`` / ``api.idempotency_key_reused`` (409),
            or whatever ``run`` raises (not remembered).
    """
    if key is None:
        return run()
    fp = fingerprint(operation, body)
    stored = idempotency.replay(caller, key, fp)
    if stored is not None:
        return stored.status_code, stored.body or {}
    status, answer = run()
    answer = json.loads(json.dumps(answer, default=str))  # what a replay returns, byte for byte
    idempotency.remember(caller, key, fp, status, answer)
    return status, answer
