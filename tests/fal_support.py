"""Shared fixtures/helpers for tests against the fal stand-in (``tests/fakes/fal_server.py``)."""

from __future__ import annotations

import fal_client.client as fal_http
import pytest

from lashme.images import presets
from lashme.jobs import uploads
from lashme.models import Job
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.fakes.fal_server import FalStandIn
from tests.photos import astronaut_jpeg, with_gps_exif

FAL_KEY = "standin-key-id:standin-secret"


def fal_env(fake: FalStandIn) -> dict[str, str]:
    """Environment that points a new process (worker.py) at the stand-in over HTTPS."""
    return {
        "FAL_KEY": FAL_KEY,
        "FAL_QUEUE_RUN_HOST": fake.host,
        "SSL_CERT_FILE": fake.cert_file,
        "LASHME_FAL_POLL_INTERVAL": "0.05",
        "LASHME_FAL_JWKS_URL": fake.url + ".well-known/jwks.json",
    }


@pytest.fixture
def fal(monkeypatch, clean_db, redis_conn):
    """A running stand-in; this process's fal_client and settings point at it (FAL_KEY set)."""
    with FalStandIn() as fake:
        monkeypatch.setattr(fal_http, "QUEUE_URL_FORMAT", fake.url)
        monkeypatch.setattr(fal_http, "MAX_ATTEMPTS", fal_http.MAX_ATTEMPTS)  # restored after the test
        for key, value in fal_env(fake).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        with session_scope() as s:  # clean_db emptied the seeded presets
            presets.ensure_fal_defaults(s)
        yield fake
    get_settings.cache_clear()


def submit_job(anon_token: str = "fal-browser", photo: bytes | None = None) -> str:
    """A PENDING fal job for an anonymous owner (not queued); returns its id."""
    job = uploads.submit_photo(
        photo or with_gps_exif(astronaut_jpeg()), user_id=None, anon_token=anon_token, enqueue=False
    )
    assert job.provider == "fal"
    return job.id


def load_job(job_id: str) -> Job:
    with session_scope() as s:
        return s.get(Job, job_id)
