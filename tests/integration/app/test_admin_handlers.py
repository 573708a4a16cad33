"""Every admin event handler is a public API: called by a visitor or a normal user it must do nothing.

The handlers are discovered, not listed: each event handler of every admin
page state (``lashme.ui.admin.routes.admin_states``) is called with
plausible arguments (real user, job, variant and pack ids) as a visitor
and as Alice, a normal user who owns data.  After each call the whole
database must be byte-for-byte the same, no list/dict state var may hold
data, no state var may hold another user's email, and ``is_super`` stays
False.  A control case shows the same calls do change things for an admin,
so the fingerprint can tell.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.models import AdminAction, CreditPack, PresetVersion
from lashme.ops.db import session_scope
from lashme.ui.admin.routes import ADMIN_PAGES, admin_states
from lashme.ui.admin.state import AdminState
from lashme.ui.admin.user_detail import AdminUserState
from lashme.ui.state import SessionState
from tests.integration.app.test_handlers import _route, _state

_BASE_VARS = set(SessionState.base_vars) | set(AdminState.base_vars)
_EMAILS = ("alice@example.com", "bob@example.com", "ada@staff.example.com", "sam@staff.example.com")


def _fingerprint() -> dict[str, list]:
    """Every row of every table, as sorted reprs (the tests' databases are small)."""
    out = {}
    with session_scope() as s:
        for table in SQLModel.metadata.sorted_tables:
            out[table.name] = sorted(repr(tuple(r)) for r in s.execute(select(table)).all())
    return out


def _run(result):
    """Finish whatever a handler returned: async generator, coroutine, generator or plain value."""
    if inspect.isasyncgen(result):

        async def consume():
            return [item async for item in result]

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, consume()).result()
    if inspect.iscoroutine(result):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, result).result()
    if inspect.isgenerator(result):
        return list(result)
    return result


def _route_of(cls: type) -> str:
    module = cls.__module__.rsplit(".", 1)[-1]
    for route, mod, _ in ADMIN_PAGES:
        if mod == module:
            return route
    raise AssertionError(f"{cls.__name__} is not in ADMIN_PAGES")


def _handlers(cls: type) -> dict:
    """The event handlers ``cls`` adds on top of the session state (setters included)."""
    return {name: h for name, h in cls.event_handlers.items() if name not in SessionState.event_handlers}


def _args_for(fn, ids: dict) -> list:
    """One plausible argument per parameter of ``fn`` (after ``self``), chosen by annotation and name."""
    out = []
    for name, param in list(inspect.signature(fn).parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        ann = str(param.annotation)
        lname = name.lower()
        if "job" in lname:
            out.append(ids["job"])
        elif "variant" in lname:
            out.append(ids["vid"])
        elif "pack" in lname:
            out.append(ids["pack"])
        elif "version" in lname:
            out.append(ids["version"])
        elif "user" in lname:
            out.append(ids["alice"])
        elif "bool" in ann:
            out.append(True)
        elif "int" in ann:
            out.append(ids["alice"] if "id" in lname else 5)
        elif "float" in ann:
            out.append(0.5)
        elif "dict" in ann:
            out.append(
                {
                    "amount": "5",
                    "delta": "5",
                    "reason": "probe",
                    "value": "7",
                    "credits": "10",
                    "price_cents": "100",
                    "prompt": "probe",
                    "strength": "0.5",
                    "params": "{}",
                    "query": "alice",
                }
            )
        elif "list" in ann:
            out.append([])
        else:
            out.append("5")
    return out


@pytest.fixture
def ids(staff):
    with session_scope() as s:
        pack = s.execute(select(CreditPack.id).limit(1)).scalar_one()
        version = s.execute(select(PresetVersion.id).limit(1)).scalar_one()
    return {**staff, "vid": staff["vids"][0], "pack": pack, "version": version}


def _call_every_handler(token: str, ids: dict, *, admin: bool = False) -> list[tuple[str, str]]:
    """Call each admin handler on a fresh state as the holder of ``token``; returns (state, handler) pairs."""
    called = []
    for cls in admin_states():
        route = _route_of(cls).replace("[user_id]", str(ids["alice"])).replace("[job_id]", ids["job"])
        for name, handler in _handlers(cls).items():
            st = _state(cls, token=token, anon="probe-browser")
            _route(st, route, origin="http://localhost:3000")
            own = {v: getattr(st, v) for v in set(cls.base_vars) - _BASE_VARS}
            try:
                _run(handler.fn(st, *_args_for(handler.fn, ids)))
            except Exception as exc:  # noqa: BLE001 - a crash is fine as long as nothing leaked or changed
                logging.getLogger(__name__).info("%s.%s raised %r", cls.__name__, name, exc)
            called.append((cls.__name__, name))
            if admin:
                continue
            for var, before in own.items():
                after = getattr(st, var)
                if isinstance(before, list | dict) and not before:
                    assert not after, f"{cls.__name__}.{name} filled {var} for a non-admin"
                for email in _EMAILS:
                    assert email not in repr(after) or email in repr(before), (
                        f"{cls.__name__}.{name} leaked {var}"
                    )
            assert st.is_super is False
    return called


@pytest.mark.parametrize("who", ["visitor", "normal user"])
def test_every_admin_handler_does_nothing_for_a_non_admin(ids, who, caplog):
    token = "" if who == "visitor" else ids["alice_token"]
    before = _fingerprint()
    with caplog.at_level(logging.WARNING, logger="lashme.app.admin.guard"):
        called = _call_every_handler(token, ids)
    assert _fingerprint() == before
    pages = {cls for cls, _ in called}
    assert len(pages) == len(ADMIN_PAGES)  # every page state was exercised
    assert all(any(c == cls and n == "on_load" for c, n in called) for cls in pages)
    assert any("admin.denied" in r.getMessage() for r in caplog.records)


def test_the_same_probe_changes_things_for_a_super_admin(ids):
    """Control: with a super admin's token the fingerprint does move (the probe is not blind)."""
    before = _fingerprint()
    st = _state(AdminUserState, token=ids["super_token"])
    route = f"/admin/users/{ids['alice']}"
    _route(st, route, origin="http://localhost:3000")
    _run(AdminUserState.on_load.fn(st))
    assert st.is_super is True
    _call_every_handler(ids["super_token"], ids, admin=True)
    after = _fingerprint()
    assert after != before
    with session_scope() as s:
        assert s.execute(select(AdminAction)).first() is not None
