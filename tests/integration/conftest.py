"""Shared integration fixtures: moto's S3 server on loopback."""

from __future__ import annotations

import pytest

from tests.fakes.s3 import moto_server


@pytest.fixture(scope="session")
def fake_s3():
    """One moto S3 server for the session (tests make their own buckets with ``new_bucket``)."""
    with moto_server() as s3:
        yield s3


@pytest.fixture
def s3_storage(fake_s3):
    """An ``S3Storage`` on a fresh bucket of the moto server."""
    from lashme.storage.s3 import S3Storage
    from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY

    return S3Storage(
        fake_s3.new_bucket(),
        endpoint_url=fake_s3.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
