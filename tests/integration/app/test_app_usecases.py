"""The application layer called directly, as a second client would: callers, ownership, policy, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update

import lashme
from lashme import i18n
from lashme.accounts import auth
from lashme.app import account, admin, dashboard, gallery
from lashme.app import credits as app_credits
from lashme.app import job as app_job
from lashme.app import session as app_session
from lashme.app import variant as app_variant
from lashme.app.admin import users as admin_users
from lashme.app.caller import Caller, from_session_token, from_verified_user, visitor
from lashme.credits import ledger, pricing
from lashme.errors import AuthError, DomainError, NotFound
from lashme.jobs import uploads
from lashme.models import Job, JobStatus, LedgerEntry, Unlock, User
from lashme.ops.db import session_scope
from tests.dbutil import count
from tests.photos import chelsea_jpeg


def _caller(token: str, **kw) -> Caller:
    return app_session.caller_for(auth_token=token, **kw)


def test_a_caller_is_read_from_the_database_never_taken_from_the_client(world):
    alice = _caller(world["alice_token"], anon_token="b1", locale="ru", ip="10.0.0.1")
    assert (alice.user_id, alice.anon_token, alice.locale, alice.ip) == (
        world["alice"],
        "b1",
        "ru",
        "10.0.0.1",
    )
    assert alice.roles == frozenset() and not alice.is_staff and alice.signed_in
    forged = _caller(world["alice_token"][:-1] + "x", anon_token="b1")
    assert forged.user_id is None and forged.anon_token == "b1" and not forged.signed_in
    assert _caller("", accept_language="ru-RU,ru;q=0.9").locale == "ru"
    assert _caller("", anon_token="x" * 65).anon_token is None  # not a token the pages make
    with pytest.raises(AuthError) as err:
        visitor(anon_token="b1").require_user()
    assert err.value.key == "auth.required"

    with session_scope() as s:  # a blocked account: the cookie makes a visitor, a verified id is refused
        s.execute(update(User).where(User.id == world["alice"]).values(is_blocked=True))
    assert _caller(world["alice_token"]).user_id is None
    with pytest.raises(AuthError) as err:
        from_verified_user(world["alice"])
    assert err.value.key == "auth.blocked"
    with pytest.raises(AuthError):
        from_verified_user(10**9)


def test_staff_roles_and_the_saved_language_come_with_the_caller(staff):
    with session_scope() as s:
        sam = from_session_token(s, staff["super_token"], locale="en")
    assert sam.is_staff and "super_admin" in sam.roles
    assert app_session.set_language(sam, "ru-RU") == "ru"
    assert app_session.set_language(sam, "klingon") is None
    assert from_verified_user(staff["super"], locale="en").locale == "ru"  # the account's choice wins
    info = app_session.load(auth_token=staff["super_token"])
    assert info.header.is_staff and info.header.email == "sam@staff.example.com"
    assert (info.header.available, info.header.held, info.header.unlock_cost) == (3, 0, 1)


def test_visitors_see_and_act_on_their_own_anonymous_jobs_only(world):
    mine, other = visitor(anon_token="alice-browser"), visitor(anon_token="someone-else")
    alice, bob = from_verified_user(world["alice"]), _caller(world["bob_token"])
    view = app_job.get(mine, world["anon_job"])
    assert view.status == "DONE" and len(view.variants) == 4 and not any(v.unlocked for v in view.variants)
    assert all(v.preview_url and v.label_key.startswith("preset.") for v in view.variants)
    for caller, job_id in ((other, world["anon_job"]), (alice, world["anon_job"]), (mine, world["job"])):
        with pytest.raises(NotFound) as err:
            app_job.get(caller, job_id)
        assert err.value.key == "job.not_found"
    with pytest.raises(NotFound):
        app_job.get(bob, world["job"])
    with pytest.raises(NotFound):  # a visitor retries by uploading again
        app_job.retry(mine, world["anon_job"], enqueue=False)

    pending = uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token="alice-browser", enqueue=False)
    with pytest.raises(NotFound):
        app_job.cancel(other, pending.id)
    assert app_job.cancel(mine, pending.id).status == "CANCELED"
    with pytest.raises(DomainError) as err:
        app_job.cancel(mine, pending.id)
    assert err.value.key == "job.not_cancelable"


def test_sign_up_claims_the_browsers_jobs_and_signs_in(world):
    """The sign-up bonus comes with the confirmed address (``lashme.app.recovery``), not before."""
    browser = visitor(anon_token="alice-browser", ip="10.0.0.9")
    new = account.sign_up(browser, email="Carol@Example.com", password="Secret123")
    carol = _caller(new.token)
    assert carol.user_id == new.user_id and new.days >= 1
    assert app_credits.balance(carol).available == 0
    assert app_job.get(carol, world["anon_job"]).status == "DONE"  # claimed: now hers
    with pytest.raises(NotFound):
        app_job.get(browser, world["anon_job"])
    with pytest.raises(AuthError) as err:
        account.sign_up(browser, email="carol@example.com", password="Secret123")
    assert err.value.key == "auth.email_taken"

    again = account.sign_in(visitor(anon_token="b2"), email="carol@example.com", password="Secret123")
    assert again.user_id == new.user_id and again.token != new.token
    account.sign_out(again.token)
    assert _caller(again.token).user_id is None and _caller(new.token).user_id == new.user_id
    with pytest.raises(AuthError) as err:
        account.sign_in(visitor(), email="carol@example.com", password="Wrong1234")
    assert err.value.key == "auth.bad_credentials"


def test_unlock_charges_the_current_price_once(world):
    alice, vid = from_verified_user(world["alice"]), world["vids"][0]
    with session_scope() as s:
        pricing.set_price(s, "unlock_cost", 2, actor="test")
    with pytest.raises(AuthError):
        app_variant.unlock(visitor(anon_token="alice-browser"), vid)
    with pytest.raises(NotFound):
        app_variant.unlock(_caller(world["bob_token"]), vid)
    first = app_variant.unlock(alice, vid)
    assert (first.charged, first.cost, first.available) == (True, 2, 1)
    assert first.fullres in ("pending", "rendering", "ready")
    second = app_variant.unlock(alice, vid)
    assert (second.charged, second.cost, second.available) == (False, 0, 1)
    with session_scope() as s:
        assert count(s, Unlock) == 1 and count(s, LedgerEntry, LedgerEntry.kind == "unlock") == 1
    page = app_variant.get(alice, vid)
    assert page.unlocked and page.job_has_unlocked and page.job_id == world["job"]
    assert gallery.zip_link(alice, world["job"]).startswith(f"/dl/zip/{world['job']}?")
    with pytest.raises(NotFound) as err:
        gallery.zip_link(_caller(world["bob_token"]), world["job"])
    assert err.value.key == "job.not_found"


def test_history_pages_are_the_callers_own_and_paged_by_tokens(world):
    alice = from_verified_user(world["alice"])
    with session_scope() as s:
        for i in range(4):
            ledger.adjust(
                s, user_id=world["alice"], delta=1, reason=f"r{i}", actor="admin:1", idempotency_key=f"h{i}"
            )
    first = app_credits.history(alice, page_token=None, page_size=2)
    assert [r.reason for r in first.rows] == ["r3", "r2"] and first.rows[0].human_reason
    assert first.prev_page_token is None and first.has_more and first.total == 5
    page = app_credits.history(alice, page_token=first.next_page_token, page_size=2)
    page = app_credits.history(alice, page_token=page.next_page_token, page_size=2)
    assert [r.kind for r in page.rows] == ["signup_bonus"] and page.next_page_token is None
    assert app_credits.history(alice, page_token="99", page_size=2).rows == first.rows  # garbage: the first
    assert {r.user_id for p in (page, first) for r in p.rows} == {world["alice"]}
    dash = dashboard.load(alice)
    assert [j.id for j in dash.recent] == [world["job"]] and dash.ledger.rows[0].reason == "r3"
    with pytest.raises(AuthError):
        app_credits.overview(visitor())


def test_gallery_use_cases_refuse_visitors_and_strangers(world):
    bob = _caller(world["bob_token"])
    assert gallery.search(bob).total == 0
    with pytest.raises(AuthError):
        gallery.search(visitor(anon_token="alice-browser"))
    with pytest.raises(NotFound):
        gallery.set_favorite(bob, world["vids"][0], True)
    alice = from_verified_user(world["alice"])
    page = gallery.search(alice, gallery.GalleryQuery(status="'; drop table jobs"))
    assert page.total == 4 and page.presets and all(t.final and t.thumb_url for t in page.items)
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == world["job"]).values(status=JobStatus.PROCESSING))
    with pytest.raises(DomainError) as err:
        gallery.delete_job(alice, world["job"])
    assert err.value.key == "job.busy"


def test_admin_services_run_for_staff_only_and_change_nothing_otherwise(staff):
    alice, ada = from_verified_user(staff["alice"]), from_verified_user(staff["admin"])
    with pytest.raises(admin.AdminRequired):
        admin.run(alice, admin_users.search_users, "")
    with pytest.raises(admin.AdminRequired):
        admin.check(visitor(), "open /admin")
    assert admin.check(ada, "open /admin").id == staff["admin"]
    found = admin.run(ada, admin_users.search_users, "alice")
    assert found.total == 1 and found.items[0].email == "alice@example.com"
    assert "PENDING" in admin.JOB_STATUSES and "super_admin" in admin.ROLE_NAMES and admin.PRICE_KEYS


def test_every_error_key_the_code_raises_is_in_the_catalogs():
    """``errors.MESSAGES`` is gone: the catalogs are the only place a message lives."""
    root = Path(lashme.__file__).parent
    raised = set()
    pattern = re.compile(
        r"""\b[A-Z]\w*(?:Error|NotFound|Rejected|Credits|Required|Reached|Throttled|Presets)\(\s*"([a-z_]+\.[\w.]+)\""""
    )
    for path in root.rglob("*.py"):
        raised |= set(pattern.findall(path.read_text()))
    assert len(raised) > 30
    assert raised - set(i18n.catalog("en")) == set()
    assert str(NotFound("job.not_found")) == i18n.translate("job.not_found", "en")
    assert i18n.error_text(NotFound("job.not_found"), "ru") == i18n.translate("job.not_found", "ru")
    assert i18n.error_key("no.such.key") == "generation.failed" and i18n.error_key("job.busy") == "job.busy"


def test_the_sign_in_cookie_is_named_once():
    from lashme.files import download_routes

    assert (
        app_session.SESSION_COOKIE
        == auth.SESSION_COOKIE
        == download_routes.SESSION_COOKIE
        == "lashme_session"
    )
