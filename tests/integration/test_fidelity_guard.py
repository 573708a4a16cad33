"""The fidelity guard on fal jobs: real fal_client against the stand-in, faithful and warped outputs.

The stand-in's faithful output is the photo cropped to 3:4 and warmed; with ``output="warped"`` the
selected requests also get a local magnification of the centre (lashes/nails redrawn longer and
thicker).  The guard must tell them apart, keep the warped ones from being sold (page, use-case
and REST API), and still end the job DONE.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lashme.accounts import auth, roles
from lashme.api.main import PREFIX, build
from lashme.app import api_tokens
from lashme.app import job as app_job
from lashme.app import variant as app_variant
from lashme.app.admin import jobs as admin_jobs
from lashme.app.caller import from_verified_user
from lashme.credits import ledger
from lashme.errors import DomainError
from lashme.files.files_api import build_api
from lashme.jobs import generation, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.provider_runs import DbJobContext
from lashme.models import Job, JobStatus, LedgerEntry, LedgerKind, Role, Unlock
from lashme.ops.db import session_scope
from lashme.providers.fal import FalProvider
from lashme.providers.fidelity import ALTERED_BELOW
from tests.photos import astronaut_jpeg, grace_hopper_jpeg

#: words of the warm_glow and soft_focus prompts (lashme.images.presets.FAL_STYLES): variants 1 and 3
WARPED_PRESETS = {"golden-hour": 1, "vignette": 3}


def _warp_two(fal) -> None:
    fal.script.output = "warped"
    fal.script.warps = lambda args: any(word in args.get("prompt", "") for word in WARPED_PRESETS)


@pytest.fixture
def api(fal, storage):
    """The REST API (and the file routes beside it), with the fal stand-in configured."""
    backend = build_api()
    backend.mount(PREFIX, build())
    with TestClient(backend, base_url="http://testserver/api/v1") as client:
        yield client


@pytest.fixture
def master(fal):
    """A signed-up master with the sign-up bonus (3 credits) and a write API token."""
    with session_scope() as s:
        uid = auth.sign_up(s, email="master@example.com", password="Secret123", signup_bonus=3).id
    token = api_tokens.create(from_verified_user(uid), name="bot", write=True).secret
    return uid, {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _fal_job(user_id: int, photo: bytes) -> str:
    job = uploads.submit_photo(photo, user_id=user_id, anon_token=None, enqueue=False)
    assert job.provider == "fal"
    return job.id


def _variants(job_id: str):
    with session_scope() as s:
        return jobs.variants_of(s, job_id)


def _unlock_entries(user_id: int) -> int:
    with session_scope() as s:
        return s.execute(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.user_id == user_id, LedgerEntry.kind == LedgerKind.UNLOCK)
        ).scalar_one()


def _balance(user_id: int) -> ledger.Balance:
    with session_scope() as s:
        return ledger.get_balance(s, user_id)


def test_warped_variants_are_altered_not_sold_and_say_so(fal, api, master):
    uid, headers = master
    _warp_two(fal)
    job_id = _fal_job(uid, astronaut_jpeg())
    assert generation.run(job_id) == JobStatus.DONE  # some variants altered: still DONE
    variants = _variants(job_id)
    assert [v.index for v in variants if v.altered] == sorted(WARPED_PRESETS.values())
    for v in variants:
        assert v.fidelity_score is not None
        if v.altered:
            assert v.fidelity_score < ALTERED_BELOW
        else:
            assert v.fidelity_score >= ALTERED_BELOW
    assert min(v.fidelity_score for v in variants if not v.altered) > max(
        v.fidelity_score for v in variants if v.altered
    )
    with session_scope() as s:
        done = [e for e in jobs.events_of(s, job_id) if e.to_status == JobStatus.DONE]
    assert done[-1].data["altered"] == 2
    altered = next(v for v in variants if v.altered)
    faithful = next(v for v in variants if not v.altered)

    # the job page's view carries the verdict (the page shows the note instead of the unlock button)
    caller = from_verified_user(uid)
    view = app_job.get(caller, job_id)
    assert {t.id: t.altered for t in view.variants} == {v.id: v.altered for v in variants}
    assert {t.id: t.fidelity_score for t in view.variants} == {v.id: v.fidelity_score for v in variants}
    assert not view.all_altered
    page = app_variant.get(caller, altered.id)
    assert page.altered and page.fidelity_score == altered.fidelity_score

    # the REST API's JSON carries it too
    body = api.get(f"/jobs/{job_id}", headers=headers).json()
    assert {t["id"]: t["altered"] for t in body["variants"]} == {v.id: v.altered for v in variants}
    assert all(isinstance(t["fidelity_score"], float) for t in body["variants"])
    assert api.get(f"/variants/{altered.id}", headers=headers).json()["altered"] is True
    assert api.get(f"/variants/{faithful.id}", headers=headers).json()["altered"] is False

    # unlocking an altered variant is refused and charges nothing (use-case and API)
    before = _balance(uid)
    with pytest.raises(DomainError) as refused:
        app_variant.unlock(caller, altered.id)
    assert refused.value.key == "variant.altered"
    r = api.post(f"/variants/{altered.id}/unlock", headers={**headers, "Idempotency-Key": "alt-1"})
    assert 400 <= r.status_code < 500 and r.json()["code"] == "variant.altered"
    assert "shape of your lashes or nails" in r.json()["detail"]
    assert _balance(uid) == before and before.available == 3
    assert _unlock_entries(uid) == 0
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Unlock)).scalar_one() == 0

    # a faithful one unlocks as usual
    r = api.post(f"/variants/{faithful.id}/unlock", headers={**headers, "Idempotency-Key": "ok-1"})
    assert r.status_code == 200 and r.json()["charged"] is True and r.json()["available"] == 2
    assert _unlock_entries(uid) == 1

    # admins see the score of every variant
    with session_scope() as s:
        roles.add_role(s, uid, Role.ADMIN, granted_by="test")
    with session_scope() as s:
        detail = admin_jobs.job_detail(s, uid, job_id)
    assert [(r.index, r.fidelity_score, r.altered) for r in detail.variant_scores] == [
        (v.index, v.fidelity_score, v.altered) for v in variants
    ]
    assert detail.fidelity_threshold == ALTERED_BELOW


def test_a_retried_run_scores_the_same_outputs_the_same(fal, storage, master):
    """At-least-once: a run that resumes the job's fal requests recomputes the stored values."""
    uid, _ = master
    _warp_two(fal)
    job_id = _fal_job(uid, grace_hopper_jpeg())
    assert generation.run(job_id) == JobStatus.DONE
    stored = {v.index: {"fidelity_score": v.fidelity_score, "altered": v.altered} for v in _variants(job_id)}
    accepted = fal.accepted
    with session_scope() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
    original = storage.get(job.original_key)
    provider = FalProvider()
    again = provider.generate_for_job(original, job.presets, DbJobContext(job, storage=storage))
    assert fal.accepted == accepted  # the same requests, resumed: nothing submitted (or paid) again
    assert generation.guard_variants(original, again, job_id=job_id) == stored
    assert generation.is_generative(provider)


def test_every_variant_altered_the_job_is_done_and_the_page_explains(fal, api, master):
    uid, headers = master
    fal.script.output = "warped"  # every request
    job_id = _fal_job(uid, astronaut_jpeg())
    assert generation.run(job_id) == JobStatus.DONE
    assert all(v.altered and v.fidelity_score < ALTERED_BELOW for v in _variants(job_id))
    view = app_job.get(from_verified_user(uid), job_id)
    assert view.status == JobStatus.DONE and view.all_altered
    body = api.get(f"/jobs/{job_id}", headers=headers).json()
    assert body["status"] == "DONE" and all(t["altered"] for t in body["variants"])
    r = api.post(f"/variants/{view.variants[0].id}/unlock", headers={**headers, "Idempotency-Key": "a"})
    assert r.json()["code"] == "variant.altered" and _balance(uid).available == 3


def test_studio_variants_are_not_guarded(clean_db, redis_conn, storage, monkeypatch):
    """The built-in provider declares nothing generative: no score, never altered."""
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("LASHME_PROVIDER", "studio")
    generation.get_settings.cache_clear()
    try:
        job = uploads.submit_photo(astronaut_jpeg(), user_id=None, anon_token="studio-b", enqueue=False)
        assert job.provider == "studio"
        assert generation.run(job.id) == JobStatus.DONE
    finally:
        generation.get_settings.cache_clear()
    assert all(v.fidelity_score is None and not v.altered for v in _variants(job.id))
