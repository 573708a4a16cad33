"""API parity: a master's whole journey through the REST API only, against the running app.

Upload → wait (server-sent events) → unlock (idempotent) → download the full-size file →
favorite, gallery search, delete → balance and ledger.  No page, no Reflex state.
"""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest
from PIL import Image

from lashme.accounts import auth
from lashme.app import api_tokens
from lashme.ops.db import session_scope
from tests.photos import photo_jpeg

pytestmark = pytest.mark.e2e


def _poll(fn, timeout=60.0, every=0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


def test_a_master_does_everything_through_the_api(app_url):
    with session_scope() as s:
        auth.sign_up(s, email="api-master@example.com", password="Secret123", signup_bonus=3)
    token = api_tokens.issue_for_email("api-master@example.com", name="bot", write=True).secret
    api = httpx.Client(
        base_url=f"{app_url}/api/v1",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "ru"},
        timeout=60,
    )
    assert api.get("/openapi.json").json()["info"]["title"] == "LashMe API"
    original = photo_jpeg("astronaut", size=(1200, 1500))
    r = api.post("/jobs", files={"photo": ("work.jpg", original, "image/jpeg")}, headers={"Idempotency-Key": "upload-1"})
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    with api.stream("GET", f"/jobs/{job_id}/events") as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1]["status"] == "DONE", events[-1]
    job = api.get(f"/jobs/{job_id}").json()
    assert len(job["variants"]) == 4
    vid = job["variants"][1]["id"]
    # a watermarked preview, never the full size
    preview = Image.open(io.BytesIO(httpx.get(job["variants"][1]["preview_url"]).content))
    assert max(preview.size) < 1500
    first = api.post(f"/variants/{vid}/unlock", headers={"Idempotency-Key": "unlock-1"}).json()
    again = api.post(f"/variants/{vid}/unlock", headers={"Idempotency-Key": "unlock-1"}).json()
    assert first == again and first["charged"] is True and first["available"] == 2

    def download():
        resp = api.get(f"/variants/{vid}/download")
        return resp.json() if resp.status_code == 200 else None

    link = _poll(download)
    full = Image.open(io.BytesIO(httpx.get(link["url"]).content))
    assert full.size == (1200, 1500)  # the upload's resolution
    assert api.put(f"/variants/{vid}/favorite").json()["favorite"] is True
    favs = api.get("/gallery", params={"favorites": "true"}).json()
    assert [t["variant_id"] for t in favs["items"]] == [vid]
    assert api.get("/balance").json() == {"available": 2, "held": 0, "unlock_cost": 1}
    kinds = [row["kind"] for row in api.get("/ledger").json()["rows"]]
    assert kinds[:2] == ["unlock", "signup_bonus"]
    assert api.delete(f"/jobs/{job_id}").status_code == 204
    gone = api.get(f"/jobs/{job_id}")
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")
    assert gone.json()["detail"]  # in Russian, as asked
