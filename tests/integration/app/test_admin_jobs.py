"""Admin jobs: refusals, filters, the job record, admin retry, idempotent refunds (also racing)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from rq.job import Job as RQJob
from sqlalchemy import select, update

from lashme.accounts import auth
from lashme.app.admin import job_actions
from lashme.app.admin import jobs as admin_jobs
from lashme.app.admin import presets as admin_presets
from lashme.app.admin.guard import AdminRequired
from lashme.credits import ledger, ledger_check, pricing, unlocks
from lashme.errors import DomainError, InsufficientCredits, NotFound
from lashme.jobs import generation, queue, uploads
from lashme.jobs.lifecycle import variants_of
from lashme.models import AdminAction, Job, JobStatus, LedgerEntry, LedgerKind
from lashme.ops.db import session_scope
from tests.dbutil import count
from tests.photos import coffee_jpeg


def _call(fn, actor, *args, **kwargs):
    with session_scope() as s:
        return fn(s, actor, *args, **kwargs)


def _bob(world) -> int:
    with session_scope() as s:
        return auth.user_for_token(s, world["bob_token"]).id


def _priced_job(user_id: int, *, run: bool = True) -> str:
    """A job of ``user_id`` with ``generation_cost`` 1 (reserved, then captured when run)."""
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
    job = uploads.submit_photo(coffee_jpeg(), user_id=user_id, anon_token=None, enqueue=False)
    if run:
        assert generation.run(job.id) == JobStatus.DONE
    return job.id


def _balance(user_id: int) -> ledger.Balance:
    with session_scope() as s:
        return ledger.get_balance(s, user_id)


def _verify_ok():
    with session_scope() as s:
        report = ledger_check.verify(s)
    assert report.ok, report


def _audits(action: str) -> list[AdminAction]:
    with session_scope() as s:
        return list(
            s.execute(
                select(AdminAction).where(AdminAction.action == action).order_by(AdminAction.id)
            ).scalars()
        )


# --- refusals ----------------------------------------------------------------------------------------


def test_every_service_function_refuses_visitors_and_normal_users(staff):
    job = staff["job"]
    calls = [
        (admin_jobs.search_jobs, (admin_jobs.JobFilter(),)),
        (admin_jobs.job_detail, (job,)),
        (job_actions.retry_job, (job,)),
        (job_actions.refund_job, (job, "because")),
    ]
    for actor in (None, staff["alice"], _bob(staff)):
        for fn, args in calls:
            with pytest.raises(AdminRequired):
                _call(fn, actor, *args)
    with session_scope() as s:
        assert count(s, AdminAction) == 0
        assert count(s, LedgerEntry, LedgerEntry.kind == LedgerKind.JOB_REFUND) == 0


# --- search ------------------------------------------------------------------------------------------


def test_filters_by_status_provider_preset_date_and_owner(staff):
    admin, alice = staff["admin"], staff["alice"]
    failed = uploads.submit_photo(coffee_jpeg(), user_id=_bob(staff), anon_token=None, enqueue=False).id
    generation.fail(failed, error_key="generation.timeout", detail="test")
    _call(admin_presets.deactivate, admin, "studio", "soft_focus")
    three = uploads.submit_photo(coffee_jpeg(), user_id=alice, anon_token=None, enqueue=False).id
    with session_scope() as s:
        s.execute(
            update(Job)
            .where(Job.id == staff["anon_job"])
            .values(created_at=datetime(2020, 1, 5, 23, 59, tzinfo=UTC))
        )

    def ids(**kw):
        page = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(**kw), limit=50)
        assert page.total == len(page.items) and not page.has_more
        return {r.id for r in page.items}

    everything = {staff["job"], staff["anon_job"], failed, three}
    assert ids() == everything
    assert ids(status="FAILED") == {failed}
    assert ids(status="DONE") == {staff["job"], staff["anon_job"]}
    assert ids(provider="studio") == everything and ids(provider="fal") == set()
    assert ids(preset="soft_focus") == everything - {three}
    assert ids(preset="warm_glow") == everything
    assert ids(date_from=date(2020, 1, 5), date_to=date(2020, 1, 5)) == {staff["anon_job"]}
    assert ids(date_to=date(2020, 1, 4)) == set() and ids(date_from=date(2020, 1, 6)) == everything - {
        staff["anon_job"]
    }
    assert ids(owner="ALICE@") == {staff["job"], three}
    assert ids(owner="visitor") == set()
    rows = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(status="FAILED")).items
    assert rows[0].owner == "bob@example.com" and rows[0].error_key == "generation.timeout"
    rows = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(date_to=date(2020, 1, 5))).items
    assert rows[0].owner == "visitor" and rows[0].is_visitor
    rows = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(status="DONE"), limit=1).items
    assert [r.id for r in rows] == [staff["job"]] and rows[0].latency_s is not None and rows[0].latency_s >= 0
    page1 = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(), limit=3)
    page2 = _call(admin_jobs.search_jobs, admin, admin_jobs.JobFilter(), token=page1.next_token, limit=3)
    assert page2.total == 4 and len(page2.items) == 1 and not page2.has_more


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "DONE' OR 1=1"},
        {"provider": "midjourney"},
        {"preset": "%"},
        {"preset": "a_"},  # valid name shape, matches nothing (the '_' is not a LIKE wildcard)
        {"owner": "x" * 300},
        {"date_from": "2020-01-01"},
    ],
)
def test_bad_filters_are_refused_or_match_literally(staff, bad):
    if bad == {"preset": "a_"}:
        page = _call(admin_jobs.search_jobs, staff["admin"], admin_jobs.JobFilter(**bad))
        assert (page.items, page.total) == ((), 0)
        return
    with pytest.raises(DomainError) as err:
        _call(admin_jobs.search_jobs, staff["admin"], admin_jobs.JobFilter(**bad))
    assert err.value.key == "admin.jobs.bad_filter"


# --- detail ------------------------------------------------------------------------------------------


def test_job_detail_has_owner_versions_events_money_and_variants(staff):
    admin, alice = staff["admin"], staff["alice"]
    jid = _priced_job(alice)
    with session_scope() as s:
        vid = variants_of(s, jid)[0].id
        unlocks.unlock_variant(s, user_id=alice, variant_id=vid, cost=1)
    d = _call(admin_jobs.job_detail, admin, jid)
    assert (d.id, d.owner, d.owner_id, d.status, d.provider, d.model) == (
        jid,
        "alice@example.com",
        alice,
        "DONE",
        "studio",
        "studio",
    )
    assert d.presets == ["natural", "warm_glow", "crisp_detail", "soft_focus"]
    assert [(p.name, p.version, p.provider) for p in d.preset_versions] == [
        (n, 1, "studio") for n in d.presets
    ]
    with session_scope() as s:
        assert [p.id for p in d.preset_versions] == s.get(Job, jid).preset_version_ids
    assert [(e.from_status, e.to_status) for e in d.events if e.kind == "status"] == [
        (None, "PENDING"),
        ("PENDING", "PROCESSING"),
        ("PROCESSING", "DONE"),
    ]
    assert d.latency_s is not None and d.latency_s >= 0 and d.cost_usd is None and d.requests == []
    assert d.reserved_credits == 1 and d.variants == 4 and d.attempts == 1
    assert [(e.kind, e.delta, e.held_delta) for e in d.ledger] == [
        ("reserve", 0, 1),
        ("capture", -1, -1),
        ("unlock", -1, 0),
    ]
    assert d.ledger[2].variant_id == vid and d.refundable == 2 and not d.can_retry
    anon = _call(admin_jobs.job_detail, admin, staff["anon_job"])
    assert anon.owner == "visitor" and anon.owner_id is None and anon.refundable == 0 and anon.ledger == []
    for bad in ("f" * 32, "../etc", "", None, 42):
        with pytest.raises(NotFound):
            _call(admin_jobs.job_detail, admin, bad)


def test_job_detail_shows_a_failed_jobs_error_and_provider_requests(staff):
    from lashme.models import ProviderRequest

    jid = uploads.submit_photo(coffee_jpeg(), user_id=None, anon_token="v", enqueue=False).id
    with session_scope() as s:
        s.add(ProviderRequest(job_id=jid, index=0, provider="fal", model="fal-ai/x", request_id="req-123"))
        s.execute(update(Job).where(Job.id == jid).values(provider_latency_s=4.5, provider_cost_usd=0.12))
    generation.fail(jid, error_key="generation.rejected", detail="fal answered 422")
    d = _call(admin_jobs.job_detail, staff["admin"], jid)
    assert (d.status, d.error_key, d.error_detail, d.can_retry) == (
        "FAILED",
        "generation.rejected",
        "fal answered 422",
        True,
    )
    assert [(r.index, r.request_id, r.status) for r in d.requests] == [(0, "req-123", "SUBMITTED")]
    assert (d.latency_s, d.cost_usd) == (4.5, 0.12)


# --- retry -------------------------------------------------------------------------------------------


def test_admin_retry_reserves_again_moves_to_pending_and_queues(staff, redis_conn):
    admin, alice = staff["admin"], staff["alice"]
    jid = _priced_job(alice, run=False)
    generation.fail(jid, error_key="generation.failed", detail="boom")
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == jid).values(attempts=3))  # a job that used up its runs
    assert _balance(alice) == ledger.Balance(total=3, held=0)
    with pytest.raises(DomainError) as err:
        _call(job_actions.retry_job, admin, staff["job"])  # DONE
    assert err.value.key == "job.not_retryable"
    assert _call(job_actions.retry_job, admin, jid) == jid
    with session_scope() as s:
        job = s.get(Job, jid)
        assert (job.status, job.attempts, job.error_key) == (JobStatus.PENDING, 0, None)
    assert _balance(alice) == ledger.Balance(total=3, held=1)
    (row,) = _audits("retry_job")
    assert row.actor_id == admin and row.target_id == jid
    assert row.before == {"status": "FAILED", "attempts": 3, "error_key": "generation.failed", "held": 0}
    assert row.after == {"status": "PENDING", "attempts": 0, "error_key": None, "held": 1}
    job_actions.enqueue_retry(jid)
    assert RQJob.fetch(queue.rq_job_id(jid), connection=redis_conn).get_status() == "queued"
    assert generation.run(jid) == JobStatus.DONE
    assert _balance(alice) == ledger.Balance(total=2, held=0)
    with pytest.raises(DomainError):
        _call(job_actions.retry_job, admin, jid)
    _verify_ok()


def test_admin_retry_ignores_the_owners_retry_cap_but_not_their_balance(staff):
    from lashme.app import job as app_job
    from lashme.app.caller import from_verified_user

    admin, alice = staff["admin"], staff["alice"]
    jid = _priced_job(alice, run=False)
    # a photo we could not use: the owner's retries are paid (a failure on our side would be free)
    for _ in range(app_job.MAX_USER_RETRIES):
        generation.fail(jid, error_key="generation.rejected")
        app_job.retry(from_verified_user(alice), jid, enqueue=False)
    generation.fail(jid, error_key="generation.rejected")
    with pytest.raises(DomainError) as err:
        app_job.retry(from_verified_user(alice), jid, enqueue=False)
    assert err.value.key == "job.retry_limit"
    with session_scope() as s:  # alice spends her credits elsewhere
        ledger.adjust(s, user_id=alice, delta=-3, reason="spent", actor="test", idempotency_key="spent")
    with pytest.raises(InsufficientCredits):
        _call(job_actions.retry_job, admin, jid)
    with session_scope() as s:
        assert s.get(Job, jid).status == JobStatus.FAILED
    assert _audits("retry_job") == []
    with session_scope() as s:
        ledger.adjust(s, user_id=alice, delta=1, reason="back", actor="test", idempotency_key="back")
    _call(job_actions.retry_job, admin, jid)
    assert _balance(alice) == ledger.Balance(total=1, held=1)
    _verify_ok()


def test_retry_keeps_the_pinned_preset_versions(staff):
    admin = staff["admin"]
    jid = uploads.submit_photo(coffee_jpeg(), user_id=staff["alice"], anon_token=None, enqueue=False).id
    with session_scope() as s:
        pinned = s.get(Job, jid).preset_version_ids
    generation.fail(jid, error_key="generation.failed")
    new = _call(admin_presets.publish, admin, "studio", "natural", prompt="", strength=0.0, params={})
    _call(job_actions.retry_job, admin, jid)
    assert generation.run(jid) == JobStatus.DONE
    d = _call(admin_jobs.job_detail, admin, jid)
    assert [p.id for p in d.preset_versions] == pinned and new.id not in pinned
    assert d.preset_versions[0].version == 1 and not d.preset_versions[0].active


# --- refund ------------------------------------------------------------------------------------------


def test_refund_gives_back_capture_and_unlocks_exactly_once(staff):
    admin, alice = staff["admin"], staff["alice"]
    jid = _priced_job(alice)
    with session_scope() as s:
        vids = [v.id for v in variants_of(s, jid)]
        for vid in vids[:2]:
            unlocks.unlock_variant(s, user_id=alice, variant_id=vid, cost=1)
    assert _balance(alice) == ledger.Balance(total=0, held=0)
    with pytest.raises(DomainError) as err:
        _call(job_actions.refund_job, admin, jid, "   ")
    assert err.value.key == "admin.reason_required"
    result = _call(job_actions.refund_job, admin, jid, "Results were blurry")
    assert (result.amount, result.balance_before, result.balance_after) == (3, 0, 3)
    assert _balance(alice) == ledger.Balance(total=3, held=0)
    with pytest.raises(DomainError) as err:
        _call(job_actions.refund_job, admin, jid, "again")
    assert err.value.key == "admin.jobs.nothing_to_refund"
    assert _balance(alice) == ledger.Balance(total=3, held=0)
    # a charge after the refund: only that one is refunded next time
    with session_scope() as s:
        unlocks.unlock_variant(s, user_id=alice, variant_id=vids[2], cost=1)
    assert _call(job_actions.refund_job, admin, jid, "third one too").amount == 1
    assert _balance(alice) == ledger.Balance(total=3, held=0)
    with session_scope() as s:
        refunds = list(
            s.execute(
                select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.JOB_REFUND).order_by(LedgerEntry.id)
            ).scalars()
        )
    assert [(e.delta, e.job_id, e.actor, e.reason) for e in refunds] == [
        (3, jid, f"admin:{admin}", "Results were blurry"),
        (1, jid, f"admin:{admin}", "third one too"),
    ]
    rows = _audits("refund_job")
    assert [(r.before["balance"], r.after["balance"], r.after["amount"], r.reason) for r in rows] == [
        (0, 3, 3, "Results were blurry"),
        (2, 3, 1, "third one too"),
    ]
    assert _call(admin_jobs.job_detail, admin, jid).refundable == 0
    _verify_ok()


def test_refund_of_a_job_that_charged_nothing_is_refused(staff):
    admin = staff["admin"]
    for jid in (staff["job"], staff["anon_job"]):  # free generation, nothing unlocked; a visitor's job
        with pytest.raises(DomainError) as err:
            _call(job_actions.refund_job, admin, jid, "goodwill")
        assert err.value.key == "admin.jobs.nothing_to_refund"
    with pytest.raises(NotFound):
        _call(job_actions.refund_job, admin, "0" * 32, "goodwill")
    with pytest.raises(DomainError) as err:
        _call(job_actions.refund_job, admin, staff["job"], "x" * 300)
    assert err.value.key == "admin.jobs.reason_too_long"
    assert _audits("refund_job") == []


def test_racing_refunds_pay_once(staff):
    admin, alice = staff["admin"], staff["alice"]
    jid = _priced_job(alice)
    with session_scope() as s:
        for v in variants_of(s, jid)[:2]:
            unlocks.unlock_variant(s, user_id=alice, variant_id=v.id, cost=1)
    n = 6
    barrier = threading.Barrier(n)
    results: list = []

    def refund():
        barrier.wait()
        try:
            results.append(_call(job_actions.refund_job, admin, jid, "race").amount)
        except DomainError as exc:
            results.append(exc.key)

    threads = [threading.Thread(target=refund) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results, key=str) == [3] + ["admin.jobs.nothing_to_refund"] * (n - 1)
    assert _balance(alice) == ledger.Balance(total=3, held=0)
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.kind == LedgerKind.JOB_REFUND) == 1
    assert len(_audits("refund_job")) == 1
    _verify_ok()


# --- page handlers ---------------------------------------------------------------------------------


def test_jobs_page_handlers_turn_non_admins_away_and_filter_for_admins(staff):
    from lashme.ui.admin.jobs import AdminJobsState
    from tests.integration.app.test_handlers import _spec_text, _state

    for token in (staff["bob_token"], staff["alice_token"]):
        st = _state(AdminJobsState, token=token)
        out = AdminJobsState.on_load.fn(st)
        assert "redirect" in _spec_text(out).lower() and st.rows == [] and st.total == 0
        out = AdminJobsState.set_status.fn(st, "DONE")
        assert "staff only" in _spec_text(out) and st.rows == [] and st.f_status == ""
    visitor = _state(AdminJobsState, anon="v")
    assert "/login" in _spec_text(AdminJobsState.on_load.fn(visitor)) and visitor.rows == []
    assert AdminJobsState.older.fn(visitor) is not None and visitor.rows == []

    st = _state(AdminJobsState, token=staff["admin_token"])
    assert AdminJobsState.on_load.fn(st) is None
    assert st.total == 2 and {r["id"] for r in st.rows} == {staff["job"], staff["anon_job"]}
    AdminJobsState.search_owner.fn(st, {"owner": "alice"})
    assert [r["id"] for r in st.rows] == [staff["job"]] and st.rows[0]["owner"] == "alice@example.com"
    AdminJobsState.reset_filters.fn(st)
    AdminJobsState.set_status.fn(st, "FAILED")
    assert (st.f_status, st.rows, st.total) == ("FAILED", [], 0)
    AdminJobsState.set_status.fn(st, "'; drop table jobs")
    assert st.f_status == "" and st.total == 2
    out = AdminJobsState.set_from.fn(st, "2020-13-45")
    assert "not valid" in _spec_text(out) and st.f_from == "" and st.total == 2
    AdminJobsState.set_to.fn(st, "2000-01-01")
    assert st.f_to == "2000-01-01" and st.total == 0
    AdminJobsState.reset_filters.fn(st)
    AdminJobsState.older.fn(st)  # one page holds both: the pager stays on page 1
    assert (st.page_no, st.has_prev, st.has_next) == (1, False, False) and st.total == 2
    visitor_row = next(r for r in st.rows if r["id"] == staff["anon_job"])
    assert visitor_row["owner"] == "visitor" and visitor_row["status"] == "DONE"


def test_job_page_handlers_refuse_non_admins_and_refund_for_admins(staff, monkeypatch):
    from lashme.ui.admin.job_detail import AdminJobState
    from tests.integration.app.test_handlers import _spec_text, _state

    jid = _priced_job(staff["alice"])
    monkeypatch.setattr(AdminJobState, "_route_job_id", lambda self: jid)
    for token in (staff["bob_token"], staff["alice_token"]):
        st = _state(AdminJobState, token=token)
        AdminJobState.on_load.fn(st)
        assert st.job == {} and st.events == [] and st.ledger_rows == []
        out = AdminJobState.refund.fn(st, {"reason": "mine"})
        assert "staff only" in _spec_text(out) and st.job == {}
    assert _balance(staff["alice"]) == ledger.Balance(total=2, held=0)

    st = _state(AdminJobState, token=staff["admin_token"])
    AdminJobState.on_load.fn(st)
    assert st.job["id"] == jid and st.job["owner"] == "alice@example.com" and st.refundable == 1
    assert [v["version"] for v in st.versions] == ["1"] * 4 and st.owner_id == staff["alice"]
    assert [e["change"] for e in st.events] == ["∅ → PENDING", "PENDING → PROCESSING", "PROCESSING → DONE"]
    assert "Please give a reason" in _spec_text(AdminJobState.refund.fn(st, {"reason": " "}))
    assert _balance(staff["alice"]) == ledger.Balance(total=2, held=0)
    out = AdminJobState.refund.fn(st, {"reason": "Blurry results"})
    assert "1" in _spec_text(out) and st.refundable == 0 and st.job["refundable"] == "0"
    assert _balance(staff["alice"]) == ledger.Balance(total=3, held=0)
    assert st.ledger_rows[-1]["reason"] == "Blurry results" and st.ledger_rows[-1]["delta"] == "+1"
    assert "Nothing to refund" in _spec_text(AdminJobState.refund.fn(st, {"reason": "again"}))

    monkeypatch.setattr(AdminJobState, "_route_job_id", lambda self: "nope")
    AdminJobState.on_load.fn(st)
    assert st.not_found and st.job == {}


def test_job_page_retry_handler_queues_the_failed_job_for_admins_only(staff, monkeypatch, redis_conn):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from lashme.ui.admin.job_detail import AdminJobState
    from tests.integration.app.test_handlers import _spec_text, _state

    def run(coro):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    jid = uploads.submit_photo(coffee_jpeg(), user_id=staff["alice"], anon_token=None, enqueue=False).id
    generation.fail(jid, error_key="generation.failed")
    monkeypatch.setattr(AdminJobState, "_route_job_id", lambda self: jid)
    bob = _state(AdminJobState, token=staff["bob_token"])
    assert "staff only" in _spec_text(run(AdminJobState.retry.fn(bob)))
    with session_scope() as s:
        assert s.get(Job, jid).status == JobStatus.FAILED
    st = _state(AdminJobState, token=staff["admin_token"])
    AdminJobState.on_load.fn(st)
    assert st.can_retry and st.job["error_key"] == "generation.failed"
    assert "back in the queue" in _spec_text(run(AdminJobState.retry.fn(st)))
    assert not st.can_retry and st.job["status"] == "PENDING"
    assert RQJob.fetch(queue.rq_job_id(jid), connection=redis_conn).get_status() == "queued"
    assert "Only a job that failed" in _spec_text(run(AdminJobState.retry.fn(st)))
