"""REST API v1 through its ASGI app: tokens and scopes, the master's journey, idempotency, problem+json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lashme.accounts import auth
from lashme.api.main import PREFIX, build
from lashme.app import api_tokens
from lashme.app.caller import from_verified_user
from lashme.credits import ledger
from lashme.files.files_api import build_api
from lashme.jobs import fullres
from lashme.jobs.generation import run as run_job
from lashme.ops.db import session_scope
from tests.photos import astronaut_jpeg, chelsea_jpeg


def _user(email, bonus=3):
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=bonus).id


def _token(user_id, *, write=True):
    return api_tokens.create(from_verified_user(user_id), name="bot", write=write).secret


@pytest.fixture
def api(clean_db, redis_conn):
    backend = build_api()  # as lashme.lashme mounts it: files routes beside the API
    backend.mount(PREFIX, build())
    with TestClient(backend, base_url="http://testserver/api/v1") as client:
        yield client


def _h(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


def _done_job(api, token, photo=None):
    r = api.post(
        "/jobs", headers=_h(token), files={"photo": ("p.jpg", photo or astronaut_jpeg(), "image/jpeg")}
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    run_job(job_id)
    return job_id


def test_no_token_or_a_bad_one_is_a_401_problem_in_russian_by_default(api):
    r = api.get("/balance")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    assert body["status"] == 401 and body["code"] == "api.unauthorized"
    assert body["title"] == "Нужна авторизация"
    r = api.get("/balance", headers=_h("lm_not-a-token", **{"Accept-Language": "en"}))
    assert r.status_code == 401 and r.json()["code"] == "api.token_invalid"
    assert "not valid" in r.json()["detail"]


def test_the_masters_journey_upload_wait_unlock_download_gallery_balance(api):
    uid = _user("master@example.com")
    token = _token(uid)
    job_id = _done_job(api, token)
    job = api.get(f"/jobs/{job_id}", headers=_h(token)).json()
    assert job["status"] == "DONE" and len(job["variants"]) == 4
    assert job["variants"][0]["preview_url"].startswith("http://testserver/files/")
    vid = job["variants"][0]["id"]
    # not unlocked yet: no download
    r = api.get(f"/variants/{vid}/download", headers=_h(token))
    assert r.status_code == 404 and r.json()["code"] == "variant.not_found"
    r = api.post(f"/variants/{vid}/unlock", headers=_h(token, **{"Idempotency-Key": "k1"}))
    assert r.status_code == 200 and r.json()["charged"] is True and r.json()["available"] == 2
    again = api.post(f"/variants/{vid}/unlock", headers=_h(token, **{"Idempotency-Key": "k1"}))
    assert again.json() == r.json()  # replayed, not charged twice
    assert api.get("/balance", headers=_h(token)).json()["available"] == 2
    first = api.get(f"/variants/{vid}/download", headers=_h(token))
    if first.status_code == 409:  # the full-size file is rendered by the worker after the unlock
        assert first.json()["code"] == "variant.not_ready" and first.headers["retry-after"]
        fullres.render(vid)
    link = api.get(f"/variants/{vid}/download", headers=_h(token)).json()
    assert link["url"].startswith("http://testserver/files/") and link["file_name"].endswith(".jpg")
    got = api.get(link["url"])
    assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
    assert api.put(f"/variants/{vid}/favorite", headers=_h(token)).json()["favorite"] is True
    page = api.get("/gallery", headers=_h(token), params={"favorites": True}).json()
    assert [t["variant_id"] for t in page["items"]] == [vid]
    ledger = api.get("/ledger", headers=_h(token)).json()
    assert [row["kind"] for row in ledger["rows"]][:2] == ["unlock", "signup_bonus"]
    assert api.delete(f"/jobs/{job_id}", headers=_h(token)).status_code == 204
    assert api.get(f"/jobs/{job_id}", headers=_h(token)).status_code == 404


def test_a_read_token_cannot_write_and_a_revoked_token_stops_working(api):
    uid = _user("reader@example.com")
    token = _token(uid, write=False)
    r = api.post("/jobs", headers=_h(token), files={"photo": ("p.jpg", chelsea_jpeg(), "image/jpeg")})
    assert r.status_code == 403 and r.json()["code"] == "api.scope_write"
    assert api.get("/balance", headers=_h(token)).json()["available"] == 3
    caller = from_verified_user(uid)
    (tok,) = api_tokens.list_mine(caller)
    assert tok.secret is None and tok.prefix == token[:10]
    api_tokens.revoke(caller, tok.id)
    assert api.get("/balance", headers=_h(token)).status_code == 401


def test_other_users_jobs_and_variants_are_not_found(api):
    alice, bob = _user("alice@example.com"), _user("bob@example.com")
    ta, tb = _token(alice), _token(bob)
    job_id = _done_job(api, ta)
    vid = api.get(f"/jobs/{job_id}", headers=_h(ta)).json()["variants"][0]["id"]
    for method, path in [
        ("get", f"/jobs/{job_id}"),
        ("get", f"/variants/{vid}"),
        ("post", f"/variants/{vid}/unlock"),
        ("put", f"/variants/{vid}/favorite"),
        ("delete", f"/jobs/{job_id}"),
    ]:
        r = getattr(api, method)(path, headers=_h(tb))
        assert r.status_code == 404, (method, path, r.text)
    assert api.get("/balance", headers=_h(tb)).json()["available"] == 3


def test_an_idempotency_key_reused_for_another_request_is_a_409(api):
    uid = _user("idem@example.com")
    token = _token(uid)
    photo = chelsea_jpeg()
    first = api.post(
        "/jobs",
        headers=_h(token, **{"Idempotency-Key": "up-1"}),
        files={"photo": ("p.jpg", photo, "image/jpeg")},
    )
    second = api.post(
        "/jobs",
        headers=_h(token, **{"Idempotency-Key": "up-1"}),
        files={"photo": ("p.jpg", photo, "image/jpeg")},
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["job_id"] == second.json()["job_id"]  # one job, not two
    other = api.post(
        "/jobs",
        headers=_h(token, **{"Idempotency-Key": "up-1"}),
        files={"photo": ("p.jpg", astronaut_jpeg(), "image/jpeg")},
    )
    assert other.status_code == 409 and other.json()["code"] == "api.idempotency_key_reused"


def test_a_hostile_upload_is_a_422_problem(api):
    token = _token(_user("h@example.com"))
    r = api.post(
        "/jobs",
        headers=_h(token, **{"Accept-Language": "en"}),
        files={"photo": ("x.jpg", b"<svg/>", "image/jpeg")},
    )
    assert r.status_code == 422 and r.json()["code"].startswith("upload.")


def test_openapi_document_lists_every_route(api):
    doc = api.get("/openapi.json").json()
    assert doc["info"]["title"] == "LashMe API"
    assert {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/events",
        "/variants/{variant_id}/unlock",
        "/gallery",
        "/balance",
        "/ledger",
    } <= set(doc["paths"])


def _events(text):
    import json

    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def test_job_events_stream_sends_the_job_until_it_is_final(api):
    import threading

    token = _token(_user("sse@example.com"))
    r = api.post("/jobs", headers=_h(token), files={"photo": ("p.jpg", chelsea_jpeg(), "image/jpeg")})
    job_id = r.json()["job_id"]
    seen = []

    def listen():
        with api.stream("GET", f"/jobs/{job_id}/events", headers=_h(token)) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            seen.extend(_events(resp.read().decode()))

    t = threading.Thread(target=listen)
    t.start()
    run_job(job_id)  # the worker's step: the stream must announce DONE and close
    t.join(timeout=60)
    assert not t.is_alive()
    assert seen[0]["id"] == job_id and seen[-1]["status"] == "DONE" and len(seen[-1]["variants"]) == 4
    # a final job: one event, then the stream ends
    done = api.get(f"/jobs/{job_id}/events", headers=_h(token))
    assert [e["status"] for e in _events(done.text)] == ["DONE"]


def test_gallery_and_ledger_page_by_tokens_that_new_rows_do_not_shift(api):
    user_id = _user("pager@example.com", bonus=10)
    token = _token(user_id)
    with session_scope() as s:  # two more ledger entries after the sign-up bonus
        for i in range(2):
            ledger.adjust(
                s, user_id=user_id, delta=1, reason=f"gift {i}", actor="admin:1", idempotency_key=f"g{i}"
            )
    _done_job(api, token)  # 4 tiles
    first = api.get("/gallery", headers=_h(token), params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["has_more"] and first["next_page_token"]
    assert first["prev_page_token"] is None and "offset" not in first
    _done_job(api, token, chelsea_jpeg())  # 4 newer tiles at the head of the list
    second = api.get(
        "/gallery", headers=_h(token), params={"limit": 3, "page_token": first["next_page_token"]}
    ).json()
    assert len(second["items"]) == 1 and second["next_page_token"] is None and not second["has_more"]
    assert {t["variant_id"] for t in second["items"]}.isdisjoint(t["variant_id"] for t in first["items"])
    assert second["total"] == 8
    for bad in ("x" * 40, first["next_page_token"][:-3] + "abc", "%00"):
        again = api.get("/gallery", headers=_h(token), params={"limit": 3, "page_token": bad})
        assert again.status_code == 200 and again.json()["prev_page_token"] is None
    assert api.get("/gallery", headers=_h(token), params={"page_token": "x" * 5000}).status_code == 422

    newest = api.get("/ledger", headers=_h(token), params={"page_size": 1}).json()
    assert len(newest["rows"]) == 1 and newest["has_more"] and newest["total"] == 3
    older = api.get(
        "/ledger", headers=_h(token), params={"page_size": 1, "page_token": newest["next_page_token"]}
    ).json()
    assert older["rows"][0]["id"] < newest["rows"][0]["id"] and older["prev_page_token"]
    bad = api.get("/ledger", headers=_h(token), params={"page_size": 1, "page_token": "garbage"}).json()
    assert bad["rows"] == newest["rows"]
