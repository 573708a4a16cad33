"""ZIP of a gallery selection / of all favourites, and the owner's retry of failed and canceled jobs.

ZIP: only the caller's own unlocked variants at full size (clean), checked again when the route
streams it; locked ones are left out and counted.  Retry: free when the job failed on our side
(no daily-limit count, no reservation, never charged), a normal generation otherwise; a canceled
job starts again as a new job.
"""

from __future__ import annotations

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from lashme.accounts import daily_limits
from lashme.accounts.auth import SESSION_COOKIE
from lashme.app import dashboard, gallery
from lashme.app import job as app_job
from lashme.app import session as app_session
from lashme.app.caller import visitor
from lashme.credits import ledger, pricing, unlocks
from lashme.errors import AuthError, DomainError, NotFound
from lashme.files import downloads
from lashme.files.files_api import build_api
from lashme.jobs import fullres, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.generation import run as run_job
from lashme.models import Job, JobEvent, JobStatus, LedgerEntry, Variant
from lashme.ops.db import session_scope
from tests.photos import chelsea_jpeg


def _caller(token: str):
    return app_session.caller_for(auth_token=token)


def _get(url: str, token: str | None):
    client = TestClient(build_api())
    if token:
        client.cookies.set(SESSION_COOKIE, token)
    return client.get(url)


@pytest.fixture
def unlocked(world, storage):
    """Alice unlocked variants 0 and 1 (only 0 rendered yet) and favourited 0 and 2."""
    alice, vids = world["alice"], world["vids"]
    with session_scope() as s:
        for vid in vids[:2]:
            unlocks.unlock_variant(s, user_id=alice, variant_id=vid, cost=1)
    fullres.render(vids[0], storage=storage)
    for vid in (vids[0], vids[2]):
        gallery.set_favorite(_caller(world["alice_token"]), vid, True)
    return world


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def _full(vid: str) -> tuple[str, str, tuple[int, int]]:
    """(entry name, full key, original size) of a variant."""
    with session_scope() as s:
        v = s.get(Variant, vid)
        job = s.get(Job, v.job_id)
        return (
            downloads.entry_name(job.id, v.index, v.preset),
            v.full_key,
            (
                job.original_width,
                job.original_height,
            ),
        )


def test_selection_zip_holds_only_the_callers_unlocked_full_size_files(unlocked, storage):
    w = unlocked
    alice, vids = _caller(w["alice_token"]), w["vids"]
    link = gallery.zip_selection(alice, vids)
    assert (link.count, link.locked, link.preparing) == (1, 2, 1)  # 1 still rendering, 2 locked
    fullres.render(vids[1], storage=storage)
    link = gallery.zip_selection(alice, vids)
    assert (link.count, link.locked, link.preparing) == (2, 2, 0)

    resp = _get(link.url, w["alice_token"])
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    assert "lashme-selection.zip" in resp.headers["content-disposition"]
    entries = _entries(resp.content)
    expected = [_full(v) for v in vids[:2]]
    assert sorted(entries) == sorted(name for name, _, _ in expected)
    for name, key, size in expected:
        assert "/full" in key  # the clean full-size file (never a watermarked preview)
        assert entries[name] == storage.get(key)
        assert Image.open(io.BytesIO(entries[name])).size == size  # the upload's resolution

    # the link is bound to Alice's session and to exactly these ids
    assert _get(link.url, w["bob_token"]).status_code == 404
    assert _get(link.url, None).status_code == 404
    q = parse_qs(urlsplit(link.url).query)
    forged = link.url.replace(q["v"][0], q["v"][0] + "." + vids[2])
    assert _get(forged, w["alice_token"]).status_code == 403


def test_selection_zip_ownership_and_nothing_unlocked(unlocked):
    w = unlocked
    alice, bob, vids = _caller(w["alice_token"]), _caller(w["bob_token"]), w["vids"]
    with pytest.raises(NotFound) as err:
        gallery.zip_selection(bob, vids[:1])  # someone else's variant: as if it did not exist
    assert err.value.key == "variant.not_found"
    with pytest.raises(NotFound):
        gallery.zip_selection(alice, [vids[0], "0" * 32])  # one unknown id refuses the selection
    with pytest.raises(NotFound):
        gallery.zip_selection(alice, [])
    with pytest.raises(AuthError):
        gallery.zip_selection(visitor(anon_token="browser-1"), vids[:1])
    with pytest.raises(NotFound) as err:
        gallery.zip_selection(alice, vids[2:])  # both locked
    assert err.value.key == "gallery.zip_nothing_unlocked"
    with pytest.raises(NotFound) as err:
        gallery.zip_selection(bob, favorites=True)  # Bob has no favourites
    assert err.value.key == "gallery.zip_nothing_unlocked"


def test_favourites_zip_is_read_again_when_downloaded(unlocked, storage):
    w = unlocked
    alice, vids = _caller(w["alice_token"]), w["vids"]
    link = gallery.zip_selection(alice, favorites=True)
    assert (link.count, link.locked) == (1, 1)  # 0 unlocked and ready, 2 locked
    resp = _get(link.url, w["alice_token"])
    assert resp.status_code == 200 and "lashme-favorites.zip" in resp.headers["content-disposition"]
    name, key, _ = _full(vids[0])
    assert _entries(resp.content) == {name: storage.get(key)}
    gallery.set_favorite(alice, vids[0], False)  # no unlocked favourite left: nothing to send
    assert _get(link.url, w["alice_token"]).status_code == 404


def test_zip_is_streamed_one_file_at_a_time(unlocked, storage):
    w = unlocked
    fullres.render(w["vids"][1], storage=storage)
    plan = downloads.plan_set_zip(downloads.ZIP_SELECTION, w["vids"][:2], user_id=w["alice"])
    chunks = list(downloads.stream_zip(plan.entries, storage=storage))
    total = sum(len(storage.get(e.key)) for e in plan.entries)
    assert len(chunks) > 2 and max(map(len, chunks)) <= downloads.ZIP_CHUNK + 1024
    assert sum(map(len, chunks)) > total
    assert len(_entries(b"".join(chunks))) == 2


def _charges(user_id: int, job_id: str) -> list[str]:
    with session_scope() as s:
        return list(
            s.execute(select(LedgerEntry.kind).where(LedgerEntry.job_id == job_id).order_by(LedgerEntry.id))
            .scalars()
            .all()
        )


def _priced_job(alice: int) -> str:
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
    return uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False).id


def _fail(job_id: str, reason: str) -> None:
    with session_scope() as s:
        jobs.transition(s, job_id, JobStatus.FAILED, error_key=reason)


def _limit(n: int) -> None:
    with session_scope() as s:
        pricing.set_price(s, "daily_limit_user", n, actor="test")


def test_a_job_that_failed_on_our_side_is_retried_for_free(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _priced_job(alice_id)
    _fail(job_id, "generation.timeout")
    view = app_job.get(alice, job_id)
    assert view.can_retry and view.retry_free
    row = next(r for r in dashboard.recent_jobs(alice, positions=False) if r.id == job_id)
    assert row.can_retry and row.retry_free
    before = _charges(alice_id, job_id)
    assert before == ["reserve", "release"]
    _limit(0)  # today's jobs used up: a free retry does not count
    assert app_job.retry(alice, job_id, enqueue=False) == job_id
    run_job(job_id)
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job.status == JobStatus.DONE and job.reserved_credits == 0
        bal = ledger.get_balance(s, alice_id)
        assert (bal.available, bal.held) == (3, 0)
    assert _charges(alice_id, job_id) == before  # no reservation, no capture


def test_a_rejected_photo_is_retried_as_a_normal_generation(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _priced_job(alice_id)
    _fail(job_id, "generation.rejected")
    view = app_job.get(alice, job_id)
    assert view.can_retry and not view.retry_free
    _limit(0)
    with pytest.raises(daily_limits.DailyLimitReached):
        app_job.retry(alice, job_id, enqueue=False)
    _limit(20)
    app_job.retry(alice, job_id, enqueue=False)
    with session_scope() as s:
        assert ledger.get_balance(s, alice_id).held == 1
    assert _charges(alice_id, job_id) == ["reserve", "release", "reserve"]


def test_a_canceled_job_starts_again_as_a_new_normal_generation(world):
    alice_id, alice = world["alice"], _caller(world["alice_token"])
    job_id = _priced_job(alice_id)
    app_job.cancel(alice, job_id)
    view = app_job.get(alice, job_id)
    assert view.can_retry and not view.retry_free
    _limit(0)
    with pytest.raises(daily_limits.DailyLimitReached):
        app_job.retry(alice, job_id, enqueue=False)
    _limit(20)
    new_id = app_job.retry(alice, job_id, enqueue=False)
    assert new_id != job_id
    with session_scope() as s:
        new = s.get(Job, new_id)
        assert (new.user_id, new.status, new.reserved_credits) == (alice_id, JobStatus.PENDING, 1)
        assert ledger.get_balance(s, alice_id).held == 1
        assert s.get(Job, job_id).status == JobStatus.CANCELED  # the history stays
        ev = s.execute(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.kind == "restarted")
        ).scalar_one()
        assert ev.data == {"job_id": new_id}
    assert not app_job.get(alice, job_id).can_retry
    row = next(r for r in dashboard.recent_jobs(alice, positions=False) if r.id == job_id)
    assert not row.can_retry
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, job_id, enqueue=False)
    assert err.value.key == "job.already_restarted"


def test_retry_of_someone_elses_job_or_a_lost_photo(world):
    alice_id, alice, bob = world["alice"], _caller(world["alice_token"]), _caller(world["bob_token"])
    job_id = _priced_job(alice_id)
    _fail(job_id, "generation.failed")
    for stranger in (bob, visitor(anon_token="alice-browser")):
        with pytest.raises(NotFound) as err:
            app_job.retry(stranger, job_id, enqueue=False)
        assert err.value.key == "job.not_found"
    other = uploads.submit_photo(chelsea_jpeg(), user_id=alice_id, anon_token=None, enqueue=False).id
    _fail(other, "generation.original_missing")
    assert not app_job.get(alice, other).can_retry
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, other, enqueue=False)
    assert err.value.key == "generation.original_missing"
    with pytest.raises(DomainError) as err:
        app_job.retry(alice, world["job"], enqueue=False)  # DONE
    assert err.value.key == "job.not_retryable"


def test_api_zip_of_a_selection_and_retry_of_a_canceled_job(unlocked, storage):
    from fastapi.testclient import TestClient as ApiClient

    from lashme.api.main import PREFIX, build
    from lashme.app import api_tokens
    from lashme.app.caller import from_verified_user

    w = unlocked
    backend = build_api()
    backend.mount(PREFIX, build())
    alice = api_tokens.create(from_verified_user(w["alice"]), name="bot", write=True).secret
    with ApiClient(backend, base_url="http://testserver/api/v1") as api:
        h = {"Authorization": f"Bearer {alice}"}
        r = api.get("/gallery/zip", params={"variant_id": w["vids"]}, headers=h)
        assert r.status_code == 200 and r.headers["x-lashme-locked"] == "2"
        name, key, _ = _full(w["vids"][0])
        assert _entries(r.content) == {name: storage.get(key)}
        r = api.get("/gallery/zip", params={"variant_id": w["vids"][2:]}, headers=h)
        assert r.status_code == 404 and r.json()["code"] == "gallery.zip_nothing_unlocked"
        job_id = uploads.submit_photo(chelsea_jpeg(), user_id=w["alice"], anon_token=None, enqueue=False).id
        assert api.post(f"/jobs/{job_id}/cancel", headers=h).status_code == 200
        r = api.post(f"/jobs/{job_id}/retry", headers=h)
        assert r.status_code == 200 and r.json()["id"] != job_id and r.json()["status"] == "PENDING"


def test_gallery_and_dashboard_handlers(unlocked):
    import lashme.lashme  # noqa: F401 - registers the app's states
    from lashme.ui.pages.dashboard import DashboardState
    from lashme.ui.pages.gallery import GalleryState
    from tests.integration.app.test_handlers import _drain, _spec_text, _state

    w = unlocked
    bob = _state(GalleryState, token=w["bob_token"])
    bob.selected = list(w["vids"])  # forged client state: Alice's ids
    out = _spec_text(_drain(GalleryState.download_selected_zip.fn(bob)))
    assert "/dl/zip-set" not in out and "does not exist or is not yours" in out
    alice = _state(GalleryState, token=w["alice_token"])
    GalleryState.on_load.fn(alice)
    GalleryState.toggle_selecting.fn(alice)
    for vid in w["vids"][::-1]:
        GalleryState.toggle_selected.fn(alice, vid)
    assert alice.selected_label == "Selected: 4"
    out = _spec_text(_drain(GalleryState.download_selected_zip.fn(alice)))
    assert "/dl/zip-set?k=sel" in out
    assert "Photos in the ZIP: 1." in out and "Locked photos left out: 2." in out
    assert "Still being prepared, left out: 1." in out

    job_id = uploads.submit_photo(chelsea_jpeg(), user_id=w["alice"], anon_token=None, enqueue=False).id
    app_job.cancel(_caller(w["alice_token"]), job_id)
    dash = _state(DashboardState, token=w["alice_token"])
    DashboardState.on_load.fn(dash)
    row = next(j for j in dash.recent if j["id"] == job_id)
    assert row["can_retry"] and not row["retry_free"] and row["stage"].startswith("You canceled it")
    bob_dash = _state(DashboardState, token=w["bob_token"])
    assert "does not exist or is not yours" in _spec_text(_drain(DashboardState.retry.fn(bob_dash, job_id)))
    out = _spec_text(_drain(DashboardState.retry.fn(dash, job_id)))
    assert "as a new job" in out
    assert dash.recent[0]["id"] != job_id and dash.recent[0]["status"] == "PENDING"


def test_job_page_offers_the_retry_in_plain_words(world):
    import lashme.lashme  # noqa: F401 - registers the app's states
    from lashme.ui.pages.job import JobState
    from tests.integration.app.test_handlers import _drain, _route, _spec_text, _state

    failed = _priced_job(world["alice"])
    _fail(failed, "generation.interrupted")
    page = _state(JobState, token=world["alice_token"])
    _route(page, f"/job/{failed}")
    JobState.on_load.fn(page)
    assert (page.status, page.can_retry, page.retry_free) == ("FAILED", True, True)
    bob = _state(JobState, token=world["bob_token"])
    _route(bob, f"/job/{failed}")
    JobState.on_load.fn(bob)
    assert bob.not_found and not bob.can_retry
    bob.shown_job_id = failed  # a forged client state changes nothing
    assert "does not exist or is not yours" in _spec_text(_drain(JobState.retry.fn(bob)))
    out = _spec_text(_drain(JobState.retry.fn(page)))
    assert "back in the queue" in out and page.status == "PENDING" and not page.can_retry

    canceled = _priced_job(world["alice"])
    app_job.cancel(_caller(world["alice_token"]), canceled)
    _route(page, f"/job/{canceled}")
    JobState.on_load.fn(page)
    assert (page.status, page.can_retry, page.retry_free) == ("CANCELED", True, False)
    out = _spec_text(_drain(JobState.retry.fn(page)))
    with session_scope() as s:
        new_id = (
            s.execute(select(Job.id).where(Job.user_id == world["alice"]).order_by(Job.created_at.desc()))
            .scalars()
            .first()
        )
    assert new_id != canceled and f"/job/{new_id}" in out
