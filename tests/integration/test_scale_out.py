"""Scale-out on one machine: 2 Reflex backends sharing state in Redis, 3 workers, a sweeper,
the run's database (PostgreSQL when available) and S3 (moto) — 50 jobs from 5 users.

Uploads go through the core (``uploads.submit_photo``); each backend is exercised over
HTTP (``/readyz``) and over its Socket.IO event channel: a sign-in handled by backend A
is visible to the same browser token on backend B (Reflex's Redis state manager).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from lashme.accounts import auth
from lashme.credits import ledger_check
from lashme.files.storage.base import job_prefix
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue, uploads
from lashme.models import JobEvent
from lashme.ops.db import session_scope
from lashme.ops.redis_server import free_port, start_redis
from lashme.ops.settings import get_settings
from tests.integration.conftest import fault_summary
from tests.integration.faultkit import (
    Procs,
    all_final,
    duplicate_ledger_keys,
    duplicate_variants,
    outcome,
    wait_until,
)
from tests.photos import astronaut_jpeg, chelsea_jpeg, coffee_jpeg, grace_hopper_jpeg

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis(tmp_path, monkeypatch):
    server = start_redis(tmp_path / "redis-scale")
    monkeypatch.setattr(get_settings(), "redis_url", server.url)
    queue.get_redis.cache_clear()
    yield server
    queue.get_redis.cache_clear()
    server.stop()


def _wait_ready(url: str, proc, timeout: float = 90) -> dict:
    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"backend exited with {proc.returncode}")
        try:
            resp = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.HTTPError:
            return None
        return resp.json() if resp.status_code == 200 else None

    return wait_until(ready, timeout, 0.3, what=f"{url}/readyz")


def test_two_backends_three_workers_fifty_jobs(
    clean_db, own_redis, fake_s3, s3_storage, tmp_path, monkeypatch, worker_zygote
):
    from reflex.state import State

    from lashme.accounts.auth import SESSION_COOKIE
    from lashme.ui.state import SessionState
    from tests.integration.reflex_client import ReflexClient

    qname = f"scale-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(get_settings(), "queue_name", qname)
    env = (
        dict(os.environ)
        | fake_s3.env()
        | {
            "S3_BUCKET": s3_storage.bucket,
            "REDIS_URL": own_redis.url,
            "REFLEX_REDIS_URL": own_redis.url,
            "LASHME_QUEUE": qname,
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_WEB_WORKDIR": str(tmp_path / ".web"),
            "REFLEX_STATES_WORKDIR": str(tmp_path / ".states"),
            # one Granian worker process per backend (Reflex's default is 2 x cores + 1 = 5 here,
            # each building the app): the two backends are still two processes that share state
            # only through Redis, which is what this test proves, at a fifth of the start-up CPU
            "GRANIAN_WORKERS": "1",
        }
    )
    procs = Procs(tmp_path, env, worker_zygote)  # workers: forks of the session's pre-imported worker.py
    try:
        urls = []
        backends = []
        for name in ("backend-a", "backend-b"):
            port = free_port()
            backends.append(
                procs.start(
                    name,
                    [
                        "-m",
                        "reflex",
                        "run",
                        "--env",
                        "prod",
                        "--backend-only",
                        "--backend-host",
                        "127.0.0.1",
                        "--backend-port",
                        str(port),
                        "--loglevel",
                        "warning",
                    ],
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for i in range(3):
            procs.worker(f"worker-{i}")
        procs.sweeper(interval=1)
        ready = [_wait_ready(u, p) for u, p in zip(urls, backends, strict=True)]
        assert all(r["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"} for r in ready)

        emails = [f"master{i}@example.com" for i in range(5)]
        with session_scope() as s:
            uids = [auth.sign_up(s, email=e, password="Secret123", signup_bonus=3).id for e in emails]

        # one browser: signs in through backend A (the HTTP route sets the HttpOnly cookie), then talks to B
        signed_in = httpx.post(
            f"{urls[0]}/auth/sign-in",
            data={"email": emails[0], "password": "Secret123"},
            headers={"Origin": urls[0]},
            follow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code in (200, 303), signed_in.text
        cookie = f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"
        token = uuid.uuid4().hex
        a = ReflexClient(urls[0], token, cookie=cookie)
        a.send(f"{State.get_full_name()}.hydrate", path="/")
        a.send(f"{SessionState.get_full_name()}.load_session", path="/")
        a.wait_for(SessionState.get_full_name(), "user_email", emails[0])
        a.close()
        b = ReflexClient(urls[1], token, cookie=cookie)
        b.send(f"{State.get_full_name()}.hydrate", path="/")
        b.send(f"{SessionState.get_full_name()}.load_session", path="/")
        seen_on_b = b.wait_for(SessionState.get_full_name(), "user_email", emails[0])
        b.close()
        assert seen_on_b["balance_rx_state_"] == 3

        photos = [astronaut_jpeg(), coffee_jpeg(), chelsea_jpeg(), grace_hopper_jpeg()]
        started = time.monotonic()
        job_ids, owner = [], {}
        for n in range(50):
            uid = uids[n % 5]
            job = uploads.submit_photo(photos[n % 4], user_id=uid, anon_token=None, storage=s3_storage)
            job_ids.append(job.id)
            owner[job.id] = uid
        wait_until(lambda: all_final(job_ids), 240, 0.5, what="50 jobs final")
        seconds = time.monotonic() - started
        alive = [p.poll() is None for p in procs.procs]
    finally:
        procs.stop_all()

    counts = outcome(job_ids)
    with session_scope() as s:
        done_events = Counter(
            dict(
                s.execute(
                    select(JobEvent.job_id, func.count())
                    .where(JobEvent.job_id.in_(job_ids), JobEvent.to_status == "DONE")
                    .group_by(JobEvent.job_id)
                ).all()
            )
        )
        variants = Counter(j for j in job_ids for _ in jobs.variants_of(s, j))
        report = ledger_check.verify(s)
    fault_summary(
        "scale-out",
        injected=len(job_ids),
        survived=counts["DONE"],
        lost=len(job_ids) - counts["DONE"] - counts["FAILED"],
        backends=2,
        workers=3,
        seconds=round(seconds, 1),
        jobs_per_min=round(len(job_ids) / seconds * 60),
    )
    assert counts["DONE"] == 50, counts
    assert all(done_events[j] == 1 for j in job_ids), "each job reached DONE exactly once"
    assert set(variants.values()) == {4} and duplicate_variants(job_ids) == 0
    assert duplicate_ledger_keys() == 0 and report.ok
    assert all(alive), "no process died"
    for j in job_ids[:5]:
        # original + 4 watermarked previews + 4 thumbnails + their 8 private clean display renditions
        # (stored right after each job is published; full-size clean files only after an unlock)
        assert s3_storage.usage(job_prefix(j, owner[j]))[0] == 17
