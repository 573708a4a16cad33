"""Review of the gallery ZIP, the retries and the clean renditions: the edge cases.

- "Start again" on a canceled job is claimed by one conditional update: two quick taps (two
  tabs, the API) make one new job; a refused restart gives the claim back.
- A free retry reserves and charges nothing, and the ledger's own check still passes.
- A paid retry is counted against the daily limit once, in the move back to PENDING: a double tap
  counts one job, and a refused count leaves the job FAILED with nothing reserved.
- An upload is counted against the daily limit once per job created, in the job's transaction: a
  reservation lost to a parallel spend, or a job that could not be written, counts nothing (for a
  visitor: neither the browser's count nor the IP's).
- A selection ZIP refuses ids of other owners mixed in; its link is bound to its kind, ids, user
  and expiry.
- The clean display renditions are recorded once per publishing run (a second call, or a stale
  run, changes nothing).
- The reader's time zone is browser input: anything but a real IANA zone is ignored.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from lashme.accounts import daily_limits
from lashme.accounts.auth import SESSION_COOKIE
from lashme.app import gallery
from lashme.app import job as app_job
from lashme.app import session as app_session
from lashme.credits import ledger, ledger_check, pricing, unlocks
from lashme.errors import DomainError, InsufficientCredits, LinkInvalid, NotFound
from lashme.files import downloads
from lashme.files.files_api import build_api
from lashme.jobs import fullres, generation, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.generation import run as run_job
from lashme.models import Job, JobEvent, JobStatus, LedgerEntry, Variant, utcnow
from lashme.ops.db import session_scope
from tests.photos import chelsea_jpeg


def _caller(token: str):
    return app_session.caller_for(auth_token=token)


def _priced_job(user_id: int) -> str:
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
    return uploads.submit_photo(chelsea_jpeg(), user_id=user_id, anon_token=None, enqueue=False).id


def _failed_priced_job(user_id: int, error_key: str) -> str:
    """A job of ``user_id`` at a price of 1 credit, failed with ``error_key``."""
    job_id = _priced_job(user_id)
    with session_scope() as s:
        jobs.transition(s, job_id, JobStatus.FAILED, error_key=error_key)
    return job_id


def _counted_today(user_id: int) -> int:
    """How many of ``user_id``'s daily jobs are used today."""
    return daily_limits.usage(user_id=user_id, anon_token=None, client_ip=None, limit=20).used


def _jobs_of(user_id: int) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Job).where(Job.user_id == user_id))


def _verify_clean() -> None:
    with session_scope() as s:
        report = ledger_check.verify(s)
    assert not report.mismatches and not report.orphan_holds, report


# --- "start again" on a canceled job -----------------------------------------------------------


def test_two_quick_start_again_taps_make_one_new_job(world, monkeypatch):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    canceled = _priced_job(alice_id)
    app_job.cancel(alice, canceled)
    before = _jobs_of(alice_id)

    real_submit = uploads.submit_photo
    inside, release = threading.Event(), threading.Event()

    def slow_submit(*args, **kwargs):  # the first tap is still making its job when the second comes
        if not inside.is_set():
            inside.set()
            assert release.wait(10)
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(uploads, "submit_photo", slow_submit)
    first: dict = {}

    def tap():
        try:
            first["id"] = app_job.retry(alice, canceled, enqueue=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            first["error"] = exc

    t = threading.Thread(target=tap)
    t.start()
    assert inside.wait(10)
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, canceled, enqueue=False)  # the second tap
    assert err.value.key == "job.already_restarted"
    release.set()
    t.join(10)
    assert "error" not in first, first
    assert first["id"] != canceled
    assert _jobs_of(alice_id) == before + 1  # one new job, one reservation
    with session_scope() as s:
        restarted = (
            s.execute(
                select(JobEvent).where(JobEvent.job_id == canceled, JobEvent.kind == app_job.RESTARTED_EVENT)
            )
            .scalars()
            .all()
        )
        assert [e.data for e in restarted] == [{"job_id": first["id"]}]
        assert ledger.get_balance(s, alice_id).held == 1
        assert s.get(Job, canceled).status == JobStatus.CANCELED
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, canceled, enqueue=False)
    assert err.value.key == "job.already_restarted"
    _verify_clean()


def test_a_refused_start_again_gives_the_claim_back_and_a_dead_claim_expires(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    canceled = _priced_job(alice_id)
    app_job.cancel(alice, canceled)
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_user", 0, actor="test")
    with pytest.raises(daily_limits.DailyLimitReached):
        app_job.retry(alice, canceled, enqueue=False)
    with session_scope() as s:
        assert s.get(Job, canceled).error_detail is None  # given back
        pricing.set_price(s, "daily_limit_user", 20, actor="test")
        # a claim held right now (another tap is making the job): refused
        s.execute(
            update(Job)
            .where(Job.id == canceled)
            .values(error_detail=app_job.RESTART_CLAIM, updated_at=utcnow())
        )
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, canceled, enqueue=False)
    assert err.value.key == "job.already_restarted"
    with session_scope() as s:  # ... whose process died long ago: taken again
        old = utcnow() - app_job.RESTART_CLAIM_TTL - timedelta(seconds=5)
        s.execute(update(Job).where(Job.id == canceled).values(updated_at=old))
    new_id = app_job.retry(alice, canceled, enqueue=False)
    assert new_id != canceled
    with session_scope() as s:
        assert s.get(Job, canceled).error_detail == f"started again as {new_id}"
    assert not app_job.get(alice, canceled).can_retry
    _verify_clean()


# --- free retry: ledger -----------------------------------------------------------------------


def test_a_free_retry_reserves_and_charges_nothing_and_the_ledger_checks_out(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _failed_priced_job(alice_id, "generation.storage_failed")
    used = _counted_today(alice_id)
    assert app_job.retry(alice, job_id, enqueue=False) == job_id
    with pytest.raises(DomainError) as err:  # a second tap finds it PENDING
        app_job.retry(alice, job_id, enqueue=False)
    assert err.value.key == "job.not_retryable"
    assert _counted_today(alice_id) == used
    with session_scope() as s:
        assert ledger.get_balance(s, alice_id).held == 0
    _verify_clean()
    assert run_job(job_id) == JobStatus.DONE
    with session_scope() as s:
        kinds = (
            s.execute(select(LedgerEntry.kind).where(LedgerEntry.job_id == job_id).order_by(LedgerEntry.id))
            .scalars()
            .all()
        )
        bal = ledger.get_balance(s, alice_id)
    assert kinds == ["reserve", "release"] and (bal.available, bal.held) == (3, 0)
    _verify_clean()


# --- paid retry: two quick taps ---------------------------------------------------------------


def test_two_quick_paid_retry_taps_count_one_job_against_the_daily_limit(world, monkeypatch):
    """A double tap on "Retry" of a job failed on the user's side: one retry, counted once."""
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _failed_priced_job(alice_id, "generation.rejected")
    assert not app_job.get(alice, job_id).retry_free
    used = _counted_today(alice_id)

    real_consume = daily_limits.consume
    inside, release = threading.Event(), threading.Event()

    def slow_consume(**kwargs):  # the first tap is still being counted when the second one comes
        if not inside.is_set():
            inside.set()
            assert release.wait(10)
        return real_consume(**kwargs)

    monkeypatch.setattr(daily_limits, "consume", slow_consume)
    results: dict[str, object] = {}

    def tap(name: str) -> None:
        try:
            results[name] = app_job.retry(alice, job_id, enqueue=False)
        except DomainError as exc:
            results[name] = exc.key

    first = threading.Thread(target=tap, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=tap, args=("second",))
    second.start()
    second.join(1.0)  # it may finish (counted on its own) or wait for the first tap's row
    release.set()
    first.join(10)
    second.join(10)
    assert sorted(map(str, results.values())) == sorted([job_id, "job.not_retryable"]), results
    assert _counted_today(alice_id) == used + 1
    with session_scope() as s:
        assert s.get(Job, job_id).status == JobStatus.PENDING
        assert ledger.get_balance(s, alice_id).held == 1
    _verify_clean()


def test_a_paid_retry_refused_by_the_daily_limit_leaves_the_job_failed_and_unreserved(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _failed_priced_job(alice_id, "generation.rejected")
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_user", 0, actor="test")
    with pytest.raises(daily_limits.DailyLimitReached):
        app_job.retry(alice, job_id, enqueue=False)
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_user", 20, actor="test")
        assert s.get(Job, job_id).status == JobStatus.FAILED
        assert ledger.get_balance(s, alice_id).held == 0
        assert (
            s.scalar(
                select(func.count()).select_from(JobEvent).where(JobEvent.message == app_job.RETRY_MESSAGE)
            )
            == 0
        )
    assert app_job.get(alice, job_id).can_retry
    _verify_clean()


# --- upload: the daily count follows the job ---------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite has one writer at a time: a second upload cannot run inside the first one's transaction",
)
def test_an_upload_that_loses_the_race_for_credits_uses_no_daily_count(world, storage, monkeypatch):
    """Two uploads at once, credits for one: the one refused at its reservation is not counted."""
    alice_id = world["alice"]
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", ledger.get_balance(s, alice_id).available, actor="test")
    used = _counted_today(alice_id)
    before = _jobs_of(alice_id)
    originals_before = len({p.parent.name for p in storage.root.rglob("original.jpg")})
    real_create = jobs.create_job
    parallel: list[str] = []

    def create_after_a_parallel_upload(session, **kwargs):  # the other upload spends the credits first
        if not parallel:
            parallel.append("")
            parallel[0] = uploads.submit_photo(
                chelsea_jpeg(), user_id=alice_id, anon_token=None, enqueue=False
            ).id
        return real_create(session, **kwargs)

    monkeypatch.setattr(jobs, "create_job", create_after_a_parallel_upload)
    with pytest.raises(InsufficientCredits):
        uploads.submit_photo(chelsea_jpeg(), user_id=alice_id, anon_token=None, enqueue=False)
    assert parallel[0] and _jobs_of(alice_id) == before + 1
    assert _counted_today(alice_id) == used + 1
    originals = {p.parent.name for p in storage.root.rglob("original.jpg")}
    assert parallel[0] in originals and len(originals) == originals_before + 1  # the refused one is gone
    _verify_clean()


def test_a_visitors_upload_whose_job_is_not_written_uses_neither_her_nor_her_ips_count(world, monkeypatch):
    ip, browser = "198.51.100.77", "visitor-race"
    with session_scope() as s:
        prices = pricing.get_prices(s)

    def used() -> tuple[int, int]:
        by_browser = daily_limits.usage(
            user_id=None, anon_token=browser, client_ip=None, limit=prices.daily_limit_anon
        )
        by_ip = daily_limits.usage(  # the IP's counter alone
            user_id=None,
            anon_token=None,
            client_ip=ip,
            limit=prices.daily_limit_anon,
            ip_limit=prices.daily_limit_anon_ip,
        )
        return by_browser.used, by_ip.used

    uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token=browser, client_ip=ip, enqueue=False)
    assert used() == (1, 1)

    def broken_insert(session, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(jobs, "create_job", broken_insert)
    with pytest.raises(RuntimeError):
        uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token=browser, client_ip=ip, enqueue=False)
    assert used() == (1, 1)


def test_without_redis_the_daily_limit_is_counted_in_the_job_transaction(clean_db, monkeypatch):
    """Redis down: today's jobs are counted in the database, in the transaction that writes the job."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(**kwargs):
        raise RedisConnectionError("redis is down")

    monkeypatch.setattr(daily_limits, "usage", down)
    monkeypatch.setattr(daily_limits, "consume", down)
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_anon", 2, actor="test")
    made = [
        uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token="outage", enqueue=False)
        for _ in range(2)
    ]
    with pytest.raises(daily_limits.DailyLimitReached):
        uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token="outage", enqueue=False)
    with session_scope() as s:
        assert (
            s.scalar(select(func.count()).select_from(Job)) == len(made) == 2
        )  # the refused one rolled back
    uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token="another-browser", enqueue=False)


# --- selection ZIP ----------------------------------------------------------------------------


@pytest.fixture
def unlocked(world, storage):
    """Alice unlocked and rendered variant 0 of her job."""
    with session_scope() as s:
        unlocks.unlock_variant(s, user_id=world["alice"], variant_id=world["vids"][0], cost=1)
    fullres.render(world["vids"][0], storage=storage)
    return world


def _get(url: str, token: str | None):
    from starlette.testclient import TestClient

    client = TestClient(build_api())
    if token:
        client.cookies.set(SESSION_COOKIE, token)
    return client.get(url)


def test_a_selection_with_someone_elses_variant_mixed_in_is_refused(unlocked):
    w = unlocked
    alice = _caller(w["alice_token"])
    with session_scope() as s:
        anon_vid = s.execute(select(Variant.id).where(Variant.job_id == w["anon_job"])).scalars().first()
    many = [w["vids"][0]] + [f"{i:032x}" for i in range(100)]
    for ids in ([w["vids"][0], anon_vid], [w["vids"][0], w["vids"][0][:31] + "%"], many):
        with pytest.raises(NotFound) as err:
            gallery.zip_selection(alice, ids)
        assert err.value.key == "variant.not_found"
    # repeats are one variant: accepted (the link names it once)
    link = gallery.zip_selection(alice, [w["vids"][0]] * 2)
    assert parse_qs(urlsplit(link.url).query)["v"] == [w["vids"][0]]
    with pytest.raises(NotFound):  # the plan itself refuses a foreign id even from a signed value
        downloads.plan_set_zip(downloads.ZIP_SELECTION, [w["vids"][0], anon_vid], user_id=w["alice"])


def test_the_set_zip_link_is_bound_to_kind_ids_user_and_expiry(unlocked):
    w = unlocked
    alice = _caller(w["alice_token"])
    url = gallery.zip_selection(alice, [w["vids"][0]]).url
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert _get(url, w["alice_token"]).status_code == 200

    def link(**changes) -> str:
        return downloads.ZIP_SET_ROUTE + "?" + urlencode({**q, **changes})

    assert _get(link(k="fav"), w["alice_token"]).status_code == 403  # replayed as another kind
    assert _get(link(v=""), w["alice_token"]).status_code == 403
    assert _get(link(e=str(int(q["e"]) + 3600)), w["alice_token"]).status_code == 403  # longer life
    assert _get(link(u="999999"), w["alice_token"]).status_code == 403
    with pytest.raises(LinkInvalid) as err:
        downloads.check_set_zip_signature(
            q["k"], q["v"], q["u"], q["e"], q["s"], now=time.time() + 2 * (int(q["e"]) - time.time()) + 5
        )
    assert err.value.key == "files.link_expired"
    # the favourites link of Alice, used with Bob's session: nothing
    gallery.set_favorite(alice, w["vids"][0], True)
    fav = gallery.zip_selection(alice, favorites=True).url
    assert _get(fav, w["bob_token"]).status_code == 404
    assert _get(fav, w["alice_token"]).status_code == 200


def test_the_api_refuses_a_foreign_id_in_a_zip(unlocked):
    from fastapi.testclient import TestClient as ApiClient

    from lashme.api.main import PREFIX, build
    from lashme.app import api_tokens
    from lashme.app.caller import from_verified_user

    w = unlocked
    with session_scope() as s:
        anon_vid = s.execute(select(Variant.id).where(Variant.job_id == w["anon_job"])).scalars().first()
    backend = build_api()
    backend.mount(PREFIX, build())
    secret = api_tokens.create(from_verified_user(w["alice"]), name="bot", write=False).secret
    with ApiClient(backend, base_url="http://testserver/api/v1") as api:
        h = {"Authorization": f"Bearer {secret}"}
        r = api.get("/gallery/zip", params={"variant_id": [w["vids"][0], anon_vid]}, headers=h)
        assert r.status_code == 404 and r.json()["code"] == "variant.not_found"
        r = api.get("/gallery/zip", params={"variant_id": [w["vids"][0] + "x"]}, headers=h)
        assert r.status_code == 422
        assert api.get("/gallery/zip", params={"variant_id": [w["vids"][0]]}).status_code == 401


# --- clean display renditions -----------------------------------------------------------------


def test_clean_renditions_are_recorded_once_and_only_for_the_publishing_run(world, storage):
    job_id = world["job"]
    with session_scope() as s:
        job = s.get(Job, job_id)
        token, prefix = job.run_token, job.original_key.rsplit("/", 1)[0] + "/"
        s.execute(
            update(Variant)
            .where(Variant.job_id == job_id)
            .values(clean_preview_key=None, clean_thumb_key=None)
        )
    images = {i: Image.new("RGB", (600, 800), (180, 120, 110)) for i in range(4)}
    assert (
        generation.store_clean_renditions(job_id, images, prefix, token + 1, storage=storage) == 0
    )  # stale run
    assert generation.store_clean_renditions(job_id, images, prefix, token, storage=storage) == 4
    with session_scope() as s:
        first = {v.id: (v.clean_preview_key, v.clean_thumb_key) for v in jobs.variants_of(s, job_id)}
    assert all(p and t and "clean_preview" in p for p, t in first.values())
    assert generation.store_clean_renditions(job_id, images, prefix, token, storage=storage) == 0  # again
    with session_scope() as s:
        assert {v.id: (v.clean_preview_key, v.clean_thumb_key) for v in jobs.variants_of(s, job_id)} == first
    # stored, but not shown to the owner before she unlocks, nor to anyone else
    alice = _caller(world["alice_token"])
    names = {p.rsplit("/", 1)[1] for pair in first.values() for p in pair}
    tiles = app_job.get(alice, job_id).variants
    assert tiles and not any(n in t.preview_url or n in t.thumb_url for t in tiles for n in names)
    assert not any(t.clean for t in gallery.search(alice).items)
    with pytest.raises(NotFound):
        app_job.get(_caller(world["bob_token"]), job_id)


# --- the reader's time zone -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/localtime",
        "zone.tab",
        "America",
        "Europe/../Europe/Paris",
        "a\x00b",
        "\udc80",
        "<script>",
        "x" * 500,
    ],
)
def test_a_forged_time_zone_is_ignored(name):
    resets = daily_limits.refusal(3, reset_at=1_800_000_000, now=1_799_990_000).params["resets_in"]
    assert resets.in_time_zone(name) is resets
    assert resets.in_time_zone(name).localize("en") == "in 2 hr 47 min"


def test_the_time_zone_handler_keeps_only_real_zones(world):
    import lashme.lashme  # noqa: F401 - registers the app's states
    from lashme.ui.pages.upload import UploadState
    from tests.integration.app.test_handlers import _state

    st = _state(UploadState, token=world["alice_token"])
    for forged in ("../../etc/passwd", "zone.tab", "<img src=x>", "Europe/Moscow\x00"):
        UploadState.remember_time_zone.fn(st, forged)
        assert st.time_zone == ""
    UploadState.remember_time_zone.fn(st, " Europe/Moscow ")
    assert st.time_zone == "Europe/Moscow"
    st.time_zone = "../../etc/passwd"  # a forged cookie reaches the state unchecked ...
    err = daily_limits.refusal(3, reset_at=1_800_000_000, now=1_799_990_000)
    assert "2 hr 47 min" in st._err(err) and "../" not in st._err(err)  # ... and changes nothing


def test_clean_renditions_of_a_variant_deleted_meanwhile_do_not_outlive_it(world, storage):
    job_id, alice = world["job"], _caller(world["alice_token"])
    with session_scope() as s:
        job = s.get(Job, job_id)
        token, prefix = job.run_token, job.original_key.rsplit("/", 1)[0] + "/"
        s.execute(
            update(Variant)
            .where(Variant.job_id == job_id)
            .values(clean_preview_key=None, clean_thumb_key=None)
        )
    gallery.delete_variant(alice, world["vids"][3])  # the owner deletes it right after the previews
    assert not (storage.root / prefix / "variants" / "3").exists()
    images = {i: Image.new("RGB", (600, 800), (180, 120, 110)) for i in range(4)}
    assert generation.store_clean_renditions(job_id, images, prefix, token, storage=storage) == 3
    assert not (storage.root / prefix / "variants" / "3").exists()  # its clean files went too
    with session_scope() as s:
        for v in jobs.variants_of(s, job_id):
            assert storage.exists(v.clean_preview_key) and storage.exists(v.clean_thumb_key)
