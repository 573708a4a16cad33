"""Shared integration fixtures: moto's S3 server on loopback, the fal stand-in, the worker zygote,
fault figures."""

from __future__ import annotations

import pytest

from tests.fakes.s3 import moto_server
from tests.fal_support import fal  # noqa: F401 - the fal stand-in fixture


@pytest.fixture(scope="module")
def api_url():
    """The app's own Starlette routes (``build_api()``) served by uvicorn on loopback; yields the base URL."""
    import threading
    import time

    import uvicorn

    from lashme.files.files_api import build_api
    from lashme.ops.redis_server import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(10)


@pytest.fixture(scope="session")
def fake_s3():
    """One moto S3 server for the session (tests make their own buckets with ``new_bucket``)."""
    with moto_server() as s3:
        yield s3


@pytest.fixture(scope="session")
def worker_zygote(tmp_path_factory):
    """One pre-imported ``worker.py`` (:class:`tests.integration.faultkit.WorkerZygote`) that forks
    the real worker processes of the tests that start many (each with its test's environment)."""
    import os

    from tests.integration.faultkit import WorkerZygote

    zygote = WorkerZygote(tmp_path_factory.mktemp("worker-zygote"), dict(os.environ))
    yield zygote
    zygote.close()


@pytest.fixture
def s3_storage(fake_s3):
    """An ``S3Storage`` on a fresh bucket of the moto server."""
    from lashme.files.storage.s3 import S3Storage
    from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY

    return S3Storage(
        fake_s3.new_bucket(),
        endpoint_url=fake_s3.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


@pytest.fixture(autouse=True)
def _drop_json_log_handlers():
    """CLI commands configure logging in this process; undo it after each test.

    Also structlog's configuration: left in place, a logger first used by a later test goes
    through the standard library to a root logger without the handler, and its lines are lost
    (tests/integration/test_supervision.py counts the launcher's lines: it failed when run after
    test_sweeper.py's CLI test, i.e. in any order but the alphabetical one).
    """
    import logging

    import structlog

    yield
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_lashme", False)]
    for handler in ours:
        root.removeHandler(handler)
    if ours:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


FAULT_SUMMARY: list[str] = []


def fault_summary(name: str, *, injected: int, survived: int, lost: int, **extra) -> str:
    """Record (and print) one fault-injection figure line; shown again at the end of the run."""
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    line = f"FAULT {name}: injected={injected} survived={survived} lost={lost} {more}".rstrip()
    print(line)
    FAULT_SUMMARY.append(line)
    return line


def pytest_terminal_summary(terminalreporter):
    if FAULT_SUMMARY:
        terminalreporter.section("fault injection")
        for line in FAULT_SUMMARY:
            terminalreporter.write_line(line)
