"""S3Storage against a real S3 HTTP endpoint on loopback (moto server mode), and a worker using it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lashme.files.storage import StorageError
from lashme.files.storage.base import job_prefix, original_key, variant_key
from lashme.files.storage.s3 import S3Storage
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue, uploads
from lashme.models import Job, JobStatus
from lashme.ops.db import session_scope
from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.photos import astronaut_jpeg

ROOT = Path(__file__).resolve().parents[2]


def test_put_get_exists_and_content_type(s3_storage):
    key = original_key(job_prefix("a" * 32, 7))
    assert key == f"u7/{'a' * 32}/original.jpg"
    assert not s3_storage.exists(key)
    s3_storage.put(key, b"\xff\xd8jpeg-bytes")
    assert s3_storage.exists(key)
    assert s3_storage.get(key) == b"\xff\xd8jpeg-bytes"
    head = s3_storage._client.head_object(Bucket=s3_storage.bucket, Key=key)
    assert head["ContentType"] == "image/jpeg"
    with pytest.raises(StorageError):
        s3_storage.get(key + ".missing")


def test_presigned_get_serves_the_object_with_a_download_name(s3_storage):
    key = variant_key(job_prefix("b" * 32, None), 2, "full")
    s3_storage.put(key, b"full-res")
    url = s3_storage.url(key, expires_in=120, download_name="lashme-bbbbbbbb-3-crisp_detail.jpg")
    assert url.startswith(s3_storage._client.meta.endpoint_url)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.content == b"full-res"
    assert resp.headers["content-disposition"].startswith(
        'attachment; filename="lashme-bbbbbbbb-3-crisp_detail.jpg"'
    )
    inline = httpx.get(s3_storage.url(key, expires_in=60))
    assert inline.status_code == 200 and "content-disposition" not in inline.headers
    assert s3_storage.presigned_url(key, expires_in=60).startswith("http://127.0.0.1:")


def test_delete_prefix_removes_every_key_of_one_job_only(s3_storage):
    mine, other = job_prefix("c" * 32, 1), job_prefix("d" * 32, 1)
    keys = [original_key(mine)] + [variant_key(mine, i, k) for i in range(4) for k in ("full", "preview")]
    for k in keys + [original_key(other)]:
        s3_storage.put(k, b"x" * 10)
    assert s3_storage.usage(mine) == (9, 90)
    assert s3_storage.delete_prefix(mine) == 9
    assert not any(s3_storage.exists(k) for k in keys)
    assert s3_storage.exists(original_key(other))
    assert s3_storage.usage() == (1, 10)
    assert s3_storage.delete_prefix(mine) == 0


def test_ping_and_errors_on_a_missing_bucket(s3_storage, fake_s3):
    s3_storage.ping()
    gone = S3Storage(
        "no-such-bucket-here",
        endpoint_url=fake_s3.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
    with pytest.raises(StorageError):
        gone.ping()
    with pytest.raises(StorageError):
        gone.put("anon/x/original.jpg", b"x")


def test_worker_stores_variants_in_s3(clean_db, redis_conn, s3_storage, fake_s3, tmp_path):
    env = dict(os.environ) | fake_s3.env() | {"S3_BUCKET": s3_storage.bucket}
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        job = uploads.submit_photo(
            astronaut_jpeg(), user_id=None, anon_token="s3-browser", storage=s3_storage
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with session_scope() as s:
                done = s.get(Job, job.id)
                # the clean display renditions are stored right after the job is published
                rendered = all(v.clean_thumb_key for v in jobs.variants_of(s, job.id) if not v.filtered)
            if done.status in jobs.FINAL and (rendered or done.status != JobStatus.DONE):
                break
            time.sleep(0.2)
        assert done.status == JobStatus.DONE, done.error_detail
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    prefix = job_prefix(job.id, None)
    # original + 4 variants x (preview, thumb, and the private clean display renditions of both):
    # full-size clean files are rendered on unlock (lashme.jobs.fullres)
    assert s3_storage.usage(prefix)[0] == 17
    with session_scope() as s:
        v = jobs.variants_of(s, job.id)[0]
    assert v.preview_key.startswith(prefix) and s3_storage.get(v.preview_key)[:2] == b"\xff\xd8"
    assert queue.rq_job_id(job.id) == f"generate-{job.id}"


def test_download_name_is_sanitized_in_the_plain_filename(s3_storage):
    from lashme.files.storage.s3 import _content_disposition

    header = _content_disposition('брови "Ольга";\\\r\n x.jpg')
    plain, star = header.split("; filename*=")
    assert plain == 'attachment; filename="' + "_" * 18 + 'x.jpg"'
    assert (
        star
        == "UTF-8''%D0%B1%D1%80%D0%BE%D0%B2%D0%B8%20%22%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0%22%3B%5C%0D%0A%20x.jpg"
    )
    key = variant_key(job_prefix("c" * 32, None), 0, "full")
    s3_storage.put(key, b"full-res")
    resp = httpx.get(s3_storage.url(key, expires_in=60, download_name="lashme ко́фе;1.jpg"))
    assert resp.status_code == 200
    assert resp.headers["content-disposition"].startswith('attachment; filename="lashme' + "_" * 7 + '1.jpg"')
