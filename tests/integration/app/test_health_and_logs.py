"""/healthz and /readyz on the files API app; JSON logs with bound ids and redaction."""

from __future__ import annotations

import json
import logging

import structlog
from starlette.testclient import TestClient

from lashme.files.files_api import build_api
from lashme.files.storage import StorageError
from lashme.ops import health
from lashme.ops.logging_setup import configure, get_logger


def test_healthz_and_readyz_when_everything_answers():
    client = TestClient(build_api())
    assert client.get("/healthz").json() == {"status": "ok"}
    resp = client.get("/readyz", headers={"X-Request-ID": "req-123"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "storage": "ok"}}
    assert resp.headers["x-request-id"] == "req-123"


def test_readyz_names_the_failed_parts(monkeypatch):
    from lashme.ops.redis_server import free_port

    health._probe_redis.cache_clear()
    monkeypatch.setattr(health, "redis_url", lambda: f"redis://127.0.0.1:{free_port()}/0")

    def broken_storage():
        raise StorageError("bucket unreachable")

    monkeypatch.setitem(health.CHECKS, "storage", broken_storage)
    resp = TestClient(build_api()).get("/readyz")
    health._probe_redis.cache_clear()
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "fail"
    assert body["checks"] == {
        "database": "ok",
        "redis": "fail: ConnectionError",
        "storage": "fail: StorageError",
    }


def test_readyz_times_out_a_hanging_part(monkeypatch):
    import time

    monkeypatch.setitem(health.CHECKS, "database", lambda: time.sleep(2))
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    import asyncio

    async def timed():
        started = time.monotonic()
        checks = await health.readiness(timeout=0.2)
        again = await health.readiness(timeout=0.2)  # the hung check is not started a second time
        return checks, again, time.monotonic() - started

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever runs in this thread
        checks, again, seconds = pool.submit(asyncio.run, timed()).result()
    assert checks["database"] == "fail: no answer within 0.2s"
    assert checks["redis"] == "ok"
    assert again["database"] == "fail: previous check still running" and again["redis"] == "ok"
    assert seconds < 1.5
    health._inflight["database"].result(timeout=5)  # let the hung check end before other tests


def test_json_logs_bind_ids_and_redact_secrets_and_signed_urls(capsys):
    app_logger = logging.getLogger("lashme")  # the app module may have configured it (root=False)
    saved = app_logger.handlers[:], app_logger.propagate
    app_logger.handlers, app_logger.propagate = [], True
    configure("test", level="INFO", fmt="json")
    try:
        with structlog.contextvars.bound_contextvars(job_id="j" * 32, user_id=7):
            get_logger("lashme.test").info(
                "download issued",
                url="https://bucket.example/u7/x/full.jpg?X-Amz-Signature=abc&X-Amz-Credential=k",
                password="hunter2",
            )
            logging.getLogger("thirdparty.lib").warning("see /files/u7/x/preview.jpg?e=1&s=sig now")
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "_lashme", False)]:
            root.removeHandler(h)
        structlog.contextvars.clear_contextvars()
        app_logger.handlers, app_logger.propagate = saved
    first, second = lines[-2], lines[-1]
    assert first["event"] == "download issued" and first["job_id"] == "j" * 32 and first["user_id"] == 7
    assert first["process"] == "test" and first["level"] == "info" and "timestamp" in first
    assert first["url"] == "https://bucket.example/u7/x/full.jpg?[redacted]"
    assert first["password"] == "[redacted]"
    assert second["logger"] == "thirdparty.lib" and second["job_id"] == "j" * 32
    assert second["event"] == "see /files/u7/x/preview.jpg?[redacted] now"
    assert "hunter2" not in json.dumps(lines) and "abc" not in json.dumps(lines)


def test_request_urls_of_http_clients_and_photo_payloads_stay_out_of_logs(capsys):
    app_logger = logging.getLogger("lashme")
    saved = app_logger.handlers[:], app_logger.propagate
    app_logger.handlers, app_logger.propagate = [], True
    configure("test", level="INFO", fmt="json")
    try:
        logging.getLogger("httpx").info('HTTP Request: GET https://v3.fal.media/files/lion/out.jpg "200 OK"')
        logging.getLogger("httpcore.connection").info("connect_tcp.started host='v3.fal.media'")
        get_logger("lashme.test").info(
            "fal answered",
            body='{"image_url": "data:image/jpeg;base64,/9j/4AAQSkZJRg+/=="}',
            output="https://v3.fal.media/files/koala/Zr1x-out.jpg",
        )
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "_lashme", False)]:
            root.removeHandler(h)
        app_logger.handlers, app_logger.propagate = saved
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert [line["event"] for line in lines] == ["fal answered"]
    assert lines[0]["body"] == '{"image_url": "data:[redacted]"}'
    assert lines[0]["output"] == "https://v3.fal.media/[redacted]"
    assert "4AAQ" not in json.dumps(lines) and "Zr1x" not in json.dumps(lines)
