"""Gallery queries (filters, sort, search, pagination), favorites, notes, deletion, ZIPs — and ownership."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from lashme.accounts import auth
from lashme.app import dashboard, gallery
from lashme.app import job as app_job
from lashme.app.caller import from_verified_user as as_user
from lashme.credits import unlocks
from lashme.errors import DomainError, NotFound
from lashme.files import downloads
from lashme.files.storage.base import job_prefix
from lashme.jobs import fullres, uploads
from lashme.jobs.generation import run as run_job
from lashme.jobs.lifecycle import variants_of
from lashme.models import Job, JobStatus, LedgerEntry, ProviderRequest, Unlock, Variant
from lashme.ops.db import session_scope
from tests.dbutil import count
from tests.photos import astronaut_jpeg, chelsea_jpeg, coffee_jpeg


def _user(email):
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=3).id


def _job(user_id, photo, *, created=None, note=None):
    job = uploads.submit_photo(photo, user_id=user_id, anon_token=None, enqueue=False)
    run_job(job.id)
    with session_scope() as s:
        values = {}
        if created:
            values["created_at"] = created
        if note:
            values["note"] = note
        if values:
            s.execute(update(Job).where(Job.id == job.id).values(**values))
    return job.id


@pytest.fixture
def three_jobs(clean_db, redis_conn):
    alice, bob = _user("alice@example.com"), _user("bob@example.com")
    t0 = datetime(2026, 3, 8, 12, tzinfo=UTC)
    old = _job(alice, chelsea_jpeg(), created=t0, note="Maria classic lashes")
    mid = _job(alice, coffee_jpeg(), created=t0 + timedelta(days=1))
    new = _job(alice, astronaut_jpeg(), created=t0 + timedelta(days=2), note="brows for Olga")
    bobs = _job(bob, chelsea_jpeg())
    return {"alice": alice, "bob": bob, "old": old, "mid": mid, "new": new, "bobs": bobs}


def _list(user_id, **kw):
    return gallery.search(as_user(user_id), gallery.GalleryQuery(**kw))


def test_newest_first_then_variant_order_and_only_mine(three_jobs):
    page = _list(three_jobs["alice"])
    assert page.total == 12 and not page.has_more
    assert [i.job_id for i in page.items[::4]] == [three_jobs["new"], three_jobs["mid"], three_jobs["old"]]
    assert [i.index for i in page.items[:4]] == [0, 1, 2, 3]
    assert three_jobs["bobs"] not in {i.job_id for i in page.items}
    assert all(re.search(r"/thumb(\.r\d+)?\.jpg\?", i.thumb_url) for i in page.items)
    oldest = _list(three_jobs["alice"], sort="oldest")
    assert oldest.items[0].job_id == three_jobs["old"]


def _walk(user_id, **kw):
    """Every tile of a listing, page after page (5 a page) through the page tokens."""
    seen, token = [], ""
    for _ in range(20):
        page = _list(user_id, page_token=token, limit=5, **kw)
        seen += [(i.job_id, i.variant_id) for i in page.items]
        if not page.has_more:
            assert page.next_page_token is None
            return seen
        token = page.next_page_token
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort", gallery.SORTS)
def test_pagination_is_stable_and_complete_in_every_sort(three_jobs, sort):
    alice = three_jobs["alice"]
    with session_scope() as s:  # a favorite in the oldest job, and a job without variants (NULL index)
        favorite = variants_of(s, three_jobs["old"])[2].id
    gallery.set_favorite(as_user(alice), favorite, True)  # a use-case owns its transaction (SQLite: one writer)
    failed = uploads.submit_photo(coffee_jpeg(), user_id=alice, anon_token=None, enqueue=False).id
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == failed).values(status="FAILED"))
    seen = _walk(alice, sort=sort)
    assert len(seen) == 13 and len(set(seen)) == 13
    assert seen == [(i.job_id, i.variant_id) for i in _list(alice, sort=sort, limit=100).items]
    if sort == "favorites":
        assert seen[0] == (three_jobs["old"], _list(alice, favorites=True).items[0].variant_id)


def test_a_new_upload_between_pages_does_not_shift_the_next_page(three_jobs):
    alice = three_jobs["alice"]
    everything = [(i.job_id, i.variant_id) for i in _list(alice, limit=100).items]
    first = _list(alice, limit=5)
    _job(alice, astronaut_jpeg(), created=datetime(2026, 4, 1, tzinfo=UTC))  # newer than every tile shown
    second = _list(alice, page_token=first.next_page_token, limit=5)
    assert [(i.job_id, i.variant_id) for i in second.items] == everything[5:10]
    assert second.total == 16 and second.prev_page_token
    back = _list(alice, page_token=second.prev_page_token, limit=5)
    assert [(i.job_id, i.variant_id) for i in back.items] == everything[:5]
    # a token made for another sort, or an edited one, shows the first page rather than failing
    for bad in (first.next_page_token[:-2] + "xy", "garbage"):
        assert _list(alice, page_token=bad, limit=5).prev_page_token is None
    assert (
        _list(alice, sort="oldest", page_token=first.next_page_token, limit=5).items[0].job_id
        == (three_jobs["old"])
    )


def test_favorites_filter_and_favorites_first(three_jobs):
    alice = three_jobs["alice"]
    with session_scope() as s:
        oldest_last = variants_of(s, three_jobs["old"])[3].id
    gallery.set_favorite(as_user(alice), oldest_last, True)
    favs = _list(alice, favorites=True)
    assert [i.variant_id for i in favs.items] == [oldest_last] and favs.items[0].favorite
    first = _list(alice, sort="favorites")
    assert first.items[0].variant_id == oldest_last
    assert first.items[1].job_id == three_jobs["new"]
    gallery.set_favorite(as_user(alice), oldest_last, False)
    assert _list(alice, favorites=True).total == 0


def test_unlocked_preset_and_status_filters(three_jobs):
    alice = three_jobs["alice"]
    with session_scope() as s:
        v = variants_of(s, three_jobs["mid"])[1]
        unlocks.unlock_variant(s, user_id=alice, variant_id=v.id, cost=1)
    got = _list(alice, unlocked=True)
    assert [i.variant_id for i in got.items] == [v.id] and got.items[0].unlocked
    warm = _list(alice, preset=v.preset)
    assert warm.total == 3 and {i.preset for i in warm.items} == {v.preset}
    assert _list(alice, status="DONE").total == 12
    # a failed job has no variants: it still shows up under its status
    failed = uploads.submit_photo(coffee_jpeg(), user_id=alice, anon_token=None, enqueue=False).id
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == failed).values(status="FAILED", error_key="generation.failed"))
    f = _list(alice, status="FAILED")
    assert [(i.job_id, i.variant_id, i.error_key) for i in f.items] == [(failed, "", "generation.failed")]


def test_search_by_preset_name_in_both_languages_date_and_note(three_jobs):
    alice = three_jobs["alice"]
    assert {i.preset for i in _list(alice, search="warm glow").items} == {"warm_glow"}
    assert {i.preset for i in _list(alice, search="Мягкий").items} == {"soft_focus"}
    assert {i.job_id for i in _list(alice, search="2026-03-09").items} == {three_jobs["mid"]}
    assert {i.job_id for i in _list(alice, search="08.03.2026").items} == {three_jobs["old"]}
    assert {i.job_id for i in _list(alice, search="olga").items} == {three_jobs["new"]}
    assert _list(alice, search="100%_").total == 0  # LIKE wildcards are literal
    assert _list(three_jobs["bob"], search="olga").total == 0
    # Cyrillic notes are found whatever the case (SQLite and PostgreSQL)
    gallery.set_note(as_user(alice), three_jobs["mid"], "Анна, объём 2D")
    assert {i.job_id for i in _list(alice, search="АННА").items} == {three_jobs["mid"]}
    assert {i.job_id for i in _list(alice, search="ОБЪЁМ").items} == {three_jobs["mid"]}


def test_ownership_of_every_write(three_jobs, storage):
    bob = three_jobs["bob"]
    with session_scope() as s:
        vid = variants_of(s, three_jobs["new"])[0].id
    with pytest.raises(NotFound), session_scope() as s:
        gallery.set_favorite(as_user(bob), vid, True)
    with pytest.raises(NotFound), session_scope() as s:
        gallery.set_note(as_user(bob), three_jobs["new"], "mine now")
    with pytest.raises(NotFound), session_scope() as s:
        gallery.delete_variant(as_user(bob), vid, storage=storage)
    with pytest.raises(NotFound), session_scope() as s:
        gallery.delete_job(as_user(bob), three_jobs["new"], storage=storage)
    with pytest.raises(NotFound):
        downloads.build_zip(three_jobs["new"], user_id=bob)
    with pytest.raises(NotFound):
        app_job.cancel(as_user(bob), three_jobs["new"])
    with pytest.raises(NotFound):
        app_job.retry(as_user(bob), three_jobs["new"], enqueue=False)
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == three_jobs["new"]) == 4
        assert s.get(Job, three_jobs["new"]).note == "brows for Olga"


def test_delete_variant_removes_files_and_row_but_keeps_the_ledger(three_jobs, storage):
    alice = three_jobs["alice"]
    with session_scope() as s:
        vs = variants_of(s, three_jobs["old"])
        unlocks.unlock_variant(s, user_id=alice, variant_id=vs[0].id, cost=1)
    fullres.render(vs[0].id, storage=storage)  # the worker's step after an unlock
    with session_scope() as s:
        vs = variants_of(s, three_jobs["old"])
        keys = [vs[0].full_key, vs[0].thumb_key, vs[0].preview_key, vs[0].insta_key]
    assert all(storage.exists(k) for k in keys)
    gallery.delete_variant(as_user(alice), vs[0].id, storage=storage)
    assert not any(storage.exists(k) for k in keys)
    assert storage.exists(vs[1].preview_key)
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == three_jobs["old"]) == 3
        assert count(s, LedgerEntry, LedgerEntry.variant_id == vs[0].id) == 1
    # deleting the last variants takes the job and its original with it
    for v in vs[1:]:
        with session_scope() as s:
            gallery.delete_variant(as_user(alice), v.id, storage=storage)
    with session_scope() as s:
        assert s.get(Job, three_jobs["old"]) is None
    assert not storage.exists(f"{job_prefix(three_jobs['old'], alice)}original.jpg")


def test_delete_job_needs_a_finished_job(three_jobs, storage):
    alice = three_jobs["alice"]
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == three_jobs["mid"]).values(status="PROCESSING"))
    with pytest.raises(DomainError) as err, session_scope() as s:
        gallery.delete_job(as_user(alice), three_jobs["mid"], storage=storage)
    assert err.value.key == "job.busy"
    with session_scope() as s:
        gallery.delete_job(as_user(alice), three_jobs["new"], storage=storage)
    with session_scope() as s:
        assert (
            s.get(Job, three_jobs["new"]) is None
            and count(s, Variant, Variant.job_id == three_jobs["new"]) == 0
        )
    assert not storage.exists(f"{job_prefix(three_jobs['new'], alice)}original.jpg")


def test_zip_holds_exactly_the_unlocked_full_files(three_jobs, storage):
    alice = three_jobs["alice"]
    with pytest.raises(NotFound) as err:
        downloads.build_zip(three_jobs["new"], user_id=alice)
    assert err.value.key == "gallery.nothing_unlocked"
    with session_scope() as s:
        vs = variants_of(s, three_jobs["new"])
        for v in (vs[0], vs[2]):
            unlocks.unlock_variant(s, user_id=alice, variant_id=v.id, cost=1)
    for v in (vs[0], vs[2]):
        fullres.render(v.id, storage=storage)  # the worker's step after an unlock
    with session_scope() as s:
        vs = variants_of(s, three_jobs["new"])
    name, data = downloads.build_zip(three_jobs["new"], user_id=alice)
    assert name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert names == [downloads.entry_name(three_jobs["new"], v.index, v.preset) for v in (vs[0], vs[2])]
        assert zf.read(names[0]) == storage.get(vs[0].full_key)


def test_zip_url_signature(three_jobs):
    url = downloads.zip_url("abc", user_id=7, expires_in=60)
    q = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))
    assert downloads.check_zip_signature("abc", q["u"], q["e"], q["s"]) == 7
    for args in (("abd", q["u"], q["e"], q["s"]), ("abc", "8", q["e"], q["s"]), ("abc", q["u"], q["e"], "x")):
        with pytest.raises(DomainError):
            downloads.check_zip_signature(*args)
    with pytest.raises(DomainError) as err:
        downloads.check_zip_signature("abc", q["u"], q["e"], q["s"], now=int(q["e"]) + 1)
    assert err.value.key == "files.link_expired"


def test_cancel_and_retry_settle_credits(three_jobs):
    from lashme.credits import ledger, pricing

    alice = three_jobs["alice"]
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
    job = uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    with session_scope() as s:
        assert ledger.get_balance(s, alice).held == 1
    with pytest.raises(DomainError) as err:
        app_job.retry(as_user(alice), job.id, enqueue=False)
    assert err.value.key == "job.not_retryable"
    app_job.cancel(as_user(alice), job.id)
    with session_scope() as s:
        assert s.get(Job, job.id).status == JobStatus.CANCELED
        bal = ledger.get_balance(s, alice)
        assert (bal.held, bal.available) == (0, 3)
    rows = dashboard.recent_jobs(as_user(alice), positions=False)
    assert rows[0].id == job.id and rows[0].stage_key == "dash.stage_canceled" and not rows[0].can_cancel
    with pytest.raises(DomainError) as err:
        app_job.cancel(as_user(alice), job.id)
    assert err.value.key == "job.not_cancelable"
    with session_scope() as s:
        s.execute(
            update(Job)
            .where(Job.id == three_jobs["mid"])
            .values(status="FAILED", error_key="generation.storage_failed")
        )
    row = next(r for r in dashboard.recent_jobs(as_user(alice), positions=False) if r.id == three_jobs["mid"])
    assert row.can_retry and row.stage_key == "generation.storage_failed"
    app_job.retry(as_user(alice), three_jobs["mid"], enqueue=False)
    with session_scope() as s:
        assert s.get(Job, three_jobs["mid"]).status == JobStatus.PENDING


def test_original_preview_is_small_and_made_once(three_jobs, storage):
    with session_scope() as s:
        original = s.get(Job, three_jobs["new"]).original_key
    key = downloads.ensure_original_preview(original, storage=storage)
    from PIL import Image

    img = Image.open(io.BytesIO(storage.get(key)))
    assert max(img.size) == 480
    assert downloads.ensure_original_preview(original, storage=storage) == key


def test_retries_count_against_the_daily_limit_and_are_capped(three_jobs):
    from lashme.accounts import daily_limits
    from lashme.credits import pricing

    alice = three_jobs["alice"]
    jid = three_jobs["mid"]

    def fail_it():
        with session_scope() as s:
            s.execute(update(Job).where(Job.id == jid).values(status="FAILED", error_key="generation.failed"))

    for _ in range(app_job.MAX_USER_RETRIES):
        fail_it()
        app_job.retry(as_user(alice), jid, enqueue=False)
    fail_it()
    with pytest.raises(DomainError) as err:
        app_job.retry(as_user(alice), jid, enqueue=False)
    assert err.value.key == "job.retry_limit"

    other = three_jobs["new"]  # rejected by the enhancer: the user's side, a normal (counted) retry
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_user", 1, actor="test")  # a fresh counter with room for 1
        s.execute(update(Job).where(Job.id == other).values(status="FAILED", error_key="generation.rejected"))
    app_job.retry(as_user(alice), other, enqueue=False)
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == other).values(status="FAILED", error_key="generation.rejected"))
    with pytest.raises(daily_limits.DailyLimitReached):
        app_job.retry(as_user(alice), other, enqueue=False)
    with session_scope() as s:
        assert s.get(Job, other).status == JobStatus.FAILED


def test_delete_job_with_provider_requests_and_unlocks(three_jobs, storage):
    alice = three_jobs["alice"]
    job_id = three_jobs["mid"]
    with session_scope() as s:
        s.add(
            ProviderRequest(
                job_id=job_id,
                index=0,
                provider="fal",
                model="fal-ai/flux/dev/image-to-image",
                request_id=f"req-{job_id}",
                status="COMPLETED",
                image_count=1,
            )
        )
        vid = variants_of(s, job_id)[0].id
        unlocks.unlock_variant(s, user_id=alice, variant_id=vid, cost=1)
    with session_scope() as s:
        gallery.delete_job(as_user(alice), job_id, storage=storage)
    with session_scope() as s:
        assert s.get(Job, job_id) is None
        assert count(s, ProviderRequest, ProviderRequest.job_id == job_id) == 0
        assert count(s, Unlock, Unlock.variant_id == vid) == 0
        assert count(s, LedgerEntry, LedgerEntry.variant_id == vid) == 1
    assert not storage.exists(f"{job_prefix(job_id, alice)}original.jpg")
