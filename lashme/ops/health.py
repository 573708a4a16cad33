"""Health endpoints for load balancers and orchestrators.

- ``GET /healthz``: the process is up and serving (no dependency is touched).
- ``GET /readyz``: the database (``SELECT 1``), Redis (``PING``) and storage
  (``Storage.ping``) answer, each within ``CHECK_TIMEOUT`` seconds, checked
  concurrently.  200 with ``{"status": "ok", "checks": {...}}`` or 503 with
  ``"status": "fail"`` and, per failed part, the error type (never a URL or
  credential).  Under the embedded launcher (:mod:`lashme.ops.launcher`) the
  body also carries ``"processes"`` (each supervised child: ``running`` or
  ``restarting``, restart count, last exit code) and ``"down"`` (the names of
  what is not working now); a worker or sweeper that is restarting makes the
  status ``"degraded"`` but keeps 200, since the app still serves and queues
  uploads, while a failed database, Redis or storage check makes it 503.

Checks run on a small executor of their own, at most one per part at a time:
during an outage a hung check is reported as still running instead of
piling up threads in the pool the rest of the backend shares.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lashme.files.storage import get_storage
from lashme.jobs.queue import redis_url
from lashme.ops.db import get_engine
from lashme.ops.launcher import STATUS_ENV

CHECK_TIMEOUT = 3.0  # seconds per dependency


@lru_cache(maxsize=1)
def _probe_redis() -> Redis:
    return Redis.from_url(
        redis_url(), socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )


def check_database() -> None:
    """``SELECT 1`` on the app's engine. Raises on failure."""
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def check_redis() -> None:
    """``PING`` Redis with 2 s socket timeouts. Raises on failure."""
    if not _probe_redis().ping():
        raise ConnectionError("no PONG")


def check_storage() -> None:
    """``ping()`` the configured storage. Raises StorageError on failure."""
    get_storage().ping()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


_executor = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
_inflight: dict[str, Future] = {}
_inflight_lock = threading.Lock()


def _submit(name: str, check: Callable[[], None]) -> Future | None:
    """Start ``check`` unless the previous run of the same part is still going (then None)."""
    with _inflight_lock:
        running = _inflight.get(name)
        if running is not None and not running.done():
            return None
        _inflight[name] = _executor.submit(check)
        return _inflight[name]


async def _run(name: str, check: Callable[[], None], timeout: float) -> str:
    future = _submit(name, check)
    if future is None:
        return "fail: previous check still running"
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
    except TimeoutError:
        return f"fail: no answer within {timeout:g}s"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"fail: {type(exc).__name__}"
    return "ok"


async def readiness(timeout: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Run every check concurrently; returns ``{part: "ok" | "fail: <reason>"}``."""
    results = await asyncio.gather(*(_run(name, fn, timeout) for name, fn in CHECKS.items()))
    return dict(zip(CHECKS, results, strict=True))


def supervised_processes() -> dict[str, dict] | None:
    """The launcher's view of its children (``{name: {"state", "restarts", ...}}``), None if unsupervised."""
    path = os.environ.get(STATUS_ENV)
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text()).get("processes") or {}
    except (OSError, ValueError):
        return None


async def healthz(request: Request) -> JSONResponse:
    """200 while the process serves requests."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    """200 when database, Redis and storage answer, else 503 naming the failed parts (and what is down)."""
    checks = await readiness()
    ok = all(v == "ok" for v in checks.values())
    body: dict = {"status": "ok" if ok else "fail", "checks": checks}
    down = [name for name, v in checks.items() if v != "ok"]
    processes = supervised_processes()
    if processes is not None:
        body["processes"] = processes
        down += [name for name, v in processes.items() if v.get("state") != "running"]
        if ok and down:
            body["status"] = "degraded"
    if down or processes is not None:
        body["down"] = down
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


ROUTES = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
