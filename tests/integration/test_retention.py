"""Retention cleanup and stats on the run's database with local storage and S3 (moto)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lashme.accounts import auth
from lashme.cli import main as cli_main
from lashme.credits import ledger, ledger_check, unlocks
from lashme.errors import DomainError
from lashme.files.storage.base import variant_key
from lashme.jobs import deletion, retention, uploads
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, JobEvent, JobStatus, LedgerEntry, ProviderRequest, Unlock, Variant, utcnow
from lashme.ops.db import session_scope
from tests.dbutil import count
from tests.photos import astronaut_jpeg


def _finished_job(storage, *, user_id=None, age=timedelta(0), status=JobStatus.DONE) -> Job:
    job = uploads.submit_photo(
        astronaut_jpeg(), user_id=user_id, anon_token="ret-browser", storage=storage, enqueue=False
    )
    prefix = job.original_key.rsplit("/", 1)[0] + "/"
    with session_scope() as s:
        for i in range(2):
            keys = {}
            for kind in ("full", "preview"):
                keys[f"{kind}_key"] = variant_key(prefix, i, kind)
                storage.put(keys[f"{kind}_key"], b"v" * 100)
            s.add(Variant(job_id=job.id, index=i, preset="natural", **keys))
        s.execute(update(Job).where(Job.id == job.id).values(status=status, created_at=utcnow() - age))
    return job


def _run_scenario(storage):
    with session_scope() as s:
        uid = auth.sign_up(s, email="keep@example.com", password="Secret123", signup_bonus=3).id
    old_anon = _finished_job(storage, age=timedelta(hours=25))
    new_anon = _finished_job(storage, age=timedelta(hours=23))
    old_user = _finished_job(storage, user_id=uid, age=timedelta(days=91))
    new_user = _finished_job(storage, user_id=uid, age=timedelta(days=30))
    stuck = _finished_job(storage, age=timedelta(days=3), status=JobStatus.PENDING)
    with session_scope() as s:
        vid = jobs.variants_of(s, old_user.id)[0].id
        unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)

    dry = retention.cleanup(dry_run=True, storage=storage)
    assert (dry.jobs, dry.objects) == (2, 10)  # 2 jobs x (original + 2 variants x 2 files)
    assert storage.exists(old_anon.original_key)

    before = storage.usage()
    report = retention.cleanup(storage=storage)
    assert (report.jobs, report.objects, report.errors) == (2, 10, [])
    assert storage.usage() == (before[0] - 10, before[1] - report.bytes)
    for gone in (old_anon, old_user):
        assert storage.usage(gone.original_key.rsplit("/", 1)[0])[0] == 0
    with session_scope() as s:
        assert {j for j in s.execute(select(Job.id)).scalars()} == {new_anon.id, new_user.id, stuck.id}
        assert count(s, Variant, Variant.job_id == old_user.id) == 0
        assert count(s, JobEvent, JobEvent.job_id == old_user.id) == 0
        assert count(s, Unlock) == 0
        # the unlock's charge stays in the ledger, and the balance still adds up
        assert count(s, LedgerEntry, LedgerEntry.variant_id == vid) == 1
        assert ledger_check.verify(s).ok
        assert ledger.get_balance(s, uid).total == 2
    assert retention.cleanup(storage=storage).jobs == 0
    return new_anon, new_user


def test_cleanup_on_local_storage(clean_db, storage):
    storage.delete_prefix("anon")
    storage.delete_prefix("u1")
    _run_scenario(storage)


def test_cleanup_on_s3(clean_db, s3_storage):
    _run_scenario(s3_storage)


def test_cli_stats_and_cleanup_dry_run(clean_db, storage, capsys):
    _finished_job(storage, age=timedelta(hours=30))
    _finished_job(storage, age=timedelta(minutes=5))
    assert cli_main(["stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["jobs_by_status"] == {"DONE": 2}
    assert stats["jobs_by_age"] == {"<1h": 1, "<24h": 0, "<7d": 1, "<30d": 0, "<90d": 0, "older": 0}
    assert stats["objects"] >= 10 and stats["bytes"] > 0
    assert cli_main(["cleanup", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["dry_run"] is True and out["jobs"] == 1
    with session_scope() as s:
        assert count(s, Job) == 2


@pytest.mark.parametrize("hours", [1])
def test_retention_periods_come_from_settings(clean_db, storage, monkeypatch, hours):
    from lashme.ops.settings import get_settings

    monkeypatch.setattr(get_settings(), "anon_retention_hours", hours)
    _finished_job(storage, age=timedelta(hours=2))
    assert retention.cleanup(storage=storage).jobs == 1


def _with_provider_request(job_id: str, index: int = 0) -> None:
    with session_scope() as s:
        s.add(
            ProviderRequest(
                job_id=job_id,
                index=index,
                provider="fal",
                model="fal-ai/flux/dev/image-to-image",
                request_id=f"req-{job_id}-{index}",
                status="COMPLETED",
                image_count=1,
            )
        )


def test_cleanup_deletes_a_fal_job_with_provider_requests_and_unlocks(clean_db, storage):
    with session_scope() as s:
        uid = auth.sign_up(s, email="fal-ret@example.com", password="Secret123", signup_bonus=3).id
    job = _finished_job(storage, user_id=uid, age=timedelta(days=91))
    _with_provider_request(job.id, 0)
    _with_provider_request(job.id, 1)
    with session_scope() as s:
        vid = jobs.variants_of(s, job.id)[0].id
        unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
    report = retention.cleanup(storage=storage)
    assert (report.jobs, report.errors) == (1, [])
    with session_scope() as s:
        assert s.get(Job, job.id) is None
        assert count(s, ProviderRequest) == 0
        assert count(s, Unlock) == 0
        assert count(s, LedgerEntry, LedgerEntry.variant_id == vid) == 1
        assert ledger_check.verify(s).ok
        assert ledger.get_balance(s, uid).total == 2


def test_delete_job_refuses_a_job_that_is_no_longer_final(clean_db, storage):
    job = _finished_job(storage, age=timedelta(hours=30), status=JobStatus.PENDING)
    with session_scope() as s, pytest.raises(DomainError) as err:
        deletion.delete_job(s, job.id, storage=storage)
    assert err.value.key == "job.busy"
    with session_scope() as s:
        assert s.get(Job, job.id) is not None and count(s, Variant, Variant.job_id == job.id) == 2
    assert storage.exists(job.original_key)
    with session_scope() as s:  # a job that is gone: nothing to do
        assert deletion.delete_job(s, "0" * 32, storage=storage) is None


def test_one_failing_job_does_not_stop_the_run(clean_db, storage):
    bad = _finished_job(storage, age=timedelta(hours=30))
    good = _finished_job(storage, age=timedelta(hours=29))
    with session_scope() as s:  # a broken row: its folder would lie outside the storage root
        s.execute(update(Job).where(Job.id == bad.id).values(original_key="../outside/original.jpg"))
    report = retention.cleanup(storage=storage)
    assert report.jobs == 1 and len(report.errors) == 1 and bad.id in report.errors[0]
    with session_scope() as s:
        assert s.get(Job, good.id) is None
        assert s.get(Job, bad.id) is not None
