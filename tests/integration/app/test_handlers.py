"""Reflex event handlers are a public API: call them as visitors and as other users.

Each handler must re-check the caller from the server-side session and
refuse other people's ids; nothing may change and no URL may leak.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import reflex as rx
from reflex.istate.data import RouterData
from starlette.datastructures import UploadFile

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.credits import ledger
from lashme.jobs import fullres, uploads
from lashme.models import Job, LedgerEntry, Unlock
from lashme.ops.db import session_scope
from lashme.ui.pages.job import JobState
from lashme.ui.pages.upload import UploadState
from tests.dbutil import count
from tests.photos import chelsea_jpeg


def _state(cls, *, token="", anon="", locale="en"):
    """A fresh ``cls`` state; English unless ``locale`` says otherwise (the app's default is Russian).

    ``token`` is the sign-in session as the browser presents it: the HttpOnly cookie in the
    ``Cookie`` header of the tab's websocket handshake, which Reflex copies into ``router.headers``.
    """
    root = rx.State(_reflex_internal_init=True)
    st = root.get_substate(cls.get_full_name().split(".")[1:])
    st.anon_token, st.locale = anon, locale
    st.router = RouterData.from_router_data({"headers": _handshake(token)})
    return st


def _handshake(token: str = "", **headers: str) -> dict[str, str]:
    """Websocket handshake headers carrying the session cookie ``token`` (none when empty)."""
    return {**headers, **({"cookie": f"lashme_anon=x; lashme_session={token}"} if token else {})}


def _route(st, path: str, **headers: str):
    """Point ``st`` at ``path`` as a new event would: the connection's Cookie header stays the same."""
    cookie = st.router.headers.cookie
    st.router = RouterData.from_router_data(
        {"headers": {**headers, **({"cookie": cookie} if cookie else {})}, "asPath": path}
    )
    return st


def _charges():
    with session_scope() as s:
        return count(s, LedgerEntry, LedgerEntry.kind == "unlock"), count(s, Unlock)


def _spec_text(spec) -> str:
    return repr(spec)


def test_unlock_as_visitor_redirects_and_charges_nothing(world):
    st = _state(JobState, anon="alice-browser")
    out = JobState.unlock.fn(st, world["vids"][0])
    assert "/signup" in _spec_text(out)
    assert _charges() == (0, 0)


def test_unlock_someone_elses_variant_is_refused(world):
    st = _state(JobState, token=world["bob_token"])
    out = JobState.unlock.fn(st, world["vids"][0])
    assert "does not exist or is not yours" in _spec_text(out)
    assert _charges() == (0, 0)


def test_unlock_with_forged_token_is_a_visitor(world):
    st = _state(JobState, token=world["alice_token"][:-1] + "x")
    assert "/signup" in _spec_text(JobState.unlock.fn(st, world["vids"][0]))
    assert _charges() == (0, 0)


def test_download_needs_ownership_and_unlock(world):
    vid = world["vids"][0]
    bob = _state(JobState, token=world["bob_token"])
    assert "/dl/variant/" not in _spec_text(JobState.download.fn(bob, vid, "full"))
    alice = _state(JobState, token=world["alice_token"])
    locked = JobState.download.fn(alice, vid, "full")
    assert "/dl/variant/" not in _spec_text(locked)
    JobState.unlock.fn(alice, vid)
    assert _charges() == (1, 1)
    fullres.render(vid)  # the worker's step after an unlock: the full-size files
    ok = _spec_text(JobState.download.fn(alice, vid, "full"))
    assert f"/dl/variant/{vid}/full?u={world['alice']}" in ok and "/files/" not in ok
    assert "/dl/variant/" not in _spec_text(JobState.download.fn(bob, vid, "full"))
    with session_scope() as s:
        assert ledger.get_balance(s, world["alice"]).available == 2


def test_job_page_state_holds_only_the_callers_job(world, monkeypatch):
    monkeypatch.setattr(JobState, "_route_job_id", lambda self: world["job"])
    bob = _state(JobState, token=world["bob_token"])
    JobState.on_load.fn(bob)
    assert bob.not_found and bob.variants == []
    visitor = _state(JobState, anon="someone-else")
    JobState.on_load.fn(visitor)
    assert visitor.not_found and visitor.variants == []
    alice = _state(JobState, token=world["alice_token"])
    JobState.on_load.fn(alice)
    assert not alice.not_found and len(alice.variants) == 4
    assert all("full" not in v["preview_url"] for v in alice.variants)
    # anonymous job: only the browser that made it sees it
    monkeypatch.setattr(JobState, "_route_job_id", lambda self: world["anon_job"])
    mine = _state(JobState, anon="alice-browser")
    JobState.on_load.fn(mine)
    assert len(mine.variants) == 4 and not any(v["unlocked"] for v in mine.variants)
    alice2 = _state(JobState, token=world["alice_token"])
    JobState.on_load.fn(alice2)
    assert alice2.not_found


def _drain(gen):
    """Run an async-generator handler to the end on a fresh loop in a thread.

    (A session-scoped Playwright browser may own this thread's event loop.)
    """

    async def consume():
        return [item async for item in gen]

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, consume()).result()


def test_upload_handler_enforces_size_on_the_server(world):
    st = _state(UploadState, anon="visitor-1")
    before = count_jobs()
    big = UploadFile(io.BytesIO(b"\xff\xd8" + b"\0" * (10 * 1024 * 1024)), filename="small.jpg")
    _drain(UploadState.handle_upload.fn(st, [big]))
    assert "larger than 10 MB" in st.error
    assert count_jobs() == before
    two = [UploadFile(io.BytesIO(chelsea_jpeg()), filename=f"{i}.jpg") for i in range(2)]
    _drain(UploadState.handle_upload.fn(st, two))
    assert "exactly one" in st.error and count_jobs() == before


def count_jobs():
    with session_scope() as s:
        return count(s, Job)


def _orders():
    from lashme.models import Order

    with session_scope() as s:
        return count(s, Order)


def test_credits_handlers_refuse_visitors_and_bad_arguments(world, monkeypatch):
    from lashme.ops.settings import get_settings
    from lashme.ui.pages.credits import CheckoutReturnState, CreditsState

    visitor = _state(CreditsState, anon="v1")
    out = _drain(CreditsState.buy.fn(visitor, 1))
    assert "/login" in _spec_text(out) and _orders() == 0
    assert "/login" in _spec_text(CreditsState.older_ledger.fn(visitor))
    assert visitor.ledger_rows == []

    # signed in, but payments are not configured: a clear message, no order, nothing charged
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    alice = _state(CreditsState, token=world["alice_token"])
    _drain(CreditsState.buy.fn(alice, "not-a-number"))
    assert alice.error == "" and _orders() == 0
    _drain(CreditsState.buy.fn(alice, 1))
    assert "not configured" in alice.error and _orders() == 0

    # the ledger shown is the caller's own, page by page
    CreditsState.older_ledger.fn(alice)  # one page holds it all: nothing older
    assert (alice.ledger_page_no, alice.ledger_has_prev, alice.ledger_has_next) == (1, False, False)
    assert [(r["kind"], r["delta"], r["balance"]) for r in alice.ledger_rows] == [("Welcome bonus", "+3", 3)]

    # someone else's (or a made-up) checkout session id confirms nothing
    bob = _state(CheckoutReturnState, token=world["bob_token"])
    _route(bob, "/credits/success?session_id=cs_test_not_mine", origin="http://localhost:3000")
    assert bob.router.url.query_parameters["session_id"] == "cs_test_not_mine"
    _drain(CheckoutReturnState.on_load.fn(bob))
    assert bob.status == "error" and "could not find" in bob.message


def _await(coro):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_cancel_handler_only_cancels_the_callers_own_running_job(world):
    from lashme.models import JobStatus

    pending = uploads.submit_photo(chelsea_jpeg(), user_id=world["alice"], anon_token=None, enqueue=False)
    bob = _state(JobState, token=world["bob_token"])
    bob.shown_job_id = pending.id
    _await(JobState.cancel.fn(bob))
    visitor = _state(JobState, anon="alice-browser")
    visitor.shown_job_id = pending.id
    _await(JobState.cancel.fn(visitor))
    with session_scope() as s:
        assert s.get(Job, pending.id).status == JobStatus.PENDING
    alice = _state(JobState, token=world["alice_token"])
    alice.shown_job_id = pending.id
    _await(JobState.cancel.fn(alice))
    with session_scope() as s:
        assert s.get(Job, pending.id).status == JobStatus.CANCELED
    assert alice.status == "CANCELED"
    alice.shown_job_id = world["job"]  # DONE: nothing to cancel
    _await(JobState.cancel.fn(alice))
    with session_scope() as s:
        assert s.get(Job, world["job"]).status == JobStatus.DONE
