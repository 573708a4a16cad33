"""The fal webhook route served by build_api() over real HTTP (granian), keys from the stand-in's JWKS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lashme.jobs import lifecycle as jobs
from lashme.models import ProviderRequest
from lashme.ops.db import session_scope
from tests.fal_support import fal_env, submit_job

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api(fal, tmp_path):
    port = _free_port()
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "lashme.files.files_api:build_api",
        ],
        cwd=ROOT,
        env={**os.environ, **fal_env(fal)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/fal/webhook"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture
def request_row(fal):
    job_id = submit_job()
    with session_scope() as s:
        s.add(
            ProviderRequest(
                job_id=job_id,
                index=0,
                provider="fal",
                model="fal-ai/flux/dev/image-to-image",
                request_id="req-1",
            )
        )
    return job_id


def _webhook_events(job_id):
    with session_scope() as s:
        return [e for e in jobs.events_of(s, job_id) if e.kind == "provider_webhook"]


def test_good_signature_is_recorded_once_and_replays_are_ignored(fal, api, request_row):
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": {"images": []}}).encode()
    headers = fal.sign_webhook("req-1", body)
    first = httpx.post(api, content=body, headers=headers)
    assert first.status_code == 200 and first.json() == {"result": "recorded"}
    replay = httpx.post(api, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json() == {"result": "duplicate"}
    assert len(_webhook_events(request_row)) == 1


def test_bad_signature_is_rejected(fal, api, request_row):
    body = json.dumps({"request_id": "req-1", "status": "OK"}).encode()
    headers = fal.sign_webhook("req-1", body)
    tampered = body.replace(b"OK", b"KO")
    assert httpx.post(api, content=tampered, headers=headers).status_code == 401
    headers["X-Fal-Webhook-Signature"] = "00" * 64
    assert httpx.post(api, content=body, headers=headers).status_code == 401
    assert httpx.post(api, content=body).status_code == 401  # unsigned
    assert _webhook_events(request_row) == []


def test_old_timestamp_is_rejected(fal, api, request_row):
    body = json.dumps({"request_id": "req-1", "status": "OK"}).encode()
    old = fal.sign_webhook("req-1", body, timestamp=int(time.time()) - 301)
    assert httpx.post(api, content=body, headers=old).status_code == 401
    fresh = fal.sign_webhook("req-1", body, timestamp=int(time.time()) - 200)
    assert httpx.post(api, content=body, headers=fresh).status_code == 200
