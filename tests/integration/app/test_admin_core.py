"""Roles, the admin guard, the audit log, and how the first super admin is made (CLI, ADMIN_EMAILS)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from lashme import cli
from lashme.accounts import auth, roles
from lashme.app.admin import audit
from lashme.app.admin.guard import AdminRequired, require_admin
from lashme.models import AdminAction, Role, User, UserRole, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui.state import SessionState
from tests.integration.app.test_handlers import _route, _state


def test_guard_refuses_visitors_normal_and_blocked_users_and_logs(staff, caplog):
    with caplog.at_level(logging.WARNING, logger="lashme.app.admin.guard"), session_scope() as s:
        for who in (None, staff["alice"], 999_999):
            with pytest.raises(AdminRequired) as err:
                require_admin(s, who, action="probe")
            assert err.value.key == "admin.forbidden"
        with pytest.raises(AdminRequired) as err:
            require_admin(s, staff["admin"], action="grant", super_admin=True)
        assert err.value.key == "admin.super_required"
        admin = require_admin(s, staff["admin"], action="probe")
        assert (admin.id, admin.is_super, admin.actor) == (staff["admin"], False, f"admin:{staff['admin']}")
        assert require_admin(s, staff["super"], action="grant", super_admin=True).is_super
        s.get(User, staff["admin"]).is_blocked = True
        s.flush()
        with pytest.raises(AdminRequired):
            require_admin(s, staff["admin"], action="probe")
    denied = [r for r in caplog.records if "admin.denied" in r.getMessage()]
    assert len(denied) == 5
    assert "tried probe" in denied[0].getMessage()


def test_roles_are_rows_added_once_and_removed(world):
    with session_scope() as s:
        assert roles.roles_of(s, world["alice"]) == frozenset()
        assert roles.add_role(s, world["alice"], Role.ADMIN, granted_by="test") is True
        assert roles.add_role(s, world["alice"], Role.ADMIN, granted_by="test") is False
        assert roles.is_staff(s, world["alice"])
        assert roles.remove_role(s, world["alice"], Role.ADMIN) is True
        assert roles.remove_role(s, world["alice"], Role.ADMIN) is False
        assert not roles.is_staff(s, world["alice"])
        assert roles.roles_of(s, None) == frozenset()


def test_admin_emails_make_a_super_admin_at_sign_up_and_audit_it(clean_db, monkeypatch):
    monkeypatch.setenv("ADMIN_EMAILS", "Boss@Example.com, other@example.com")
    get_settings.cache_clear()
    try:
        with session_scope() as s:
            boss = auth.sign_up(s, email="boss@example.com", password="Secret123", signup_bonus=3)
            plain = auth.sign_up(s, email="plain@example.com", password="Secret123", signup_bonus=3)
            assert roles.roles_of(s, boss.id) == {Role.SUPER_ADMIN}
            assert roles.roles_of(s, plain.id) == frozenset()
            row = s.execute(select(AdminAction)).scalar_one()
            assert (row.action, row.target_id, row.actor_email, row.actor_id) == (
                "role_grant",
                str(boss.id),
                "setting:ADMIN_EMAILS",
                None,
            )
            assert row.before == {"roles": []} and row.after == {"roles": ["super_admin"]}
    finally:
        get_settings.cache_clear()
    assert roles.parse_admin_emails(" a@x.io;B@x.io  c@x.io,") == {"a@x.io", "b@x.io", "c@x.io"}
    assert roles.parse_admin_emails("") == frozenset()


def test_create_admin_cli_grants_once_and_refuses_unknown_emails(world, capsys):
    assert cli.main(["create-admin", "ALICE@example.com"]) == 0
    assert "now a super admin" in capsys.readouterr().out
    assert cli.main(["create-admin", "alice@example.com"]) == 0
    assert "already a super admin" in capsys.readouterr().out
    assert cli.main(["create-admin", "nobody@example.com"]) == 2
    assert "sign up first" in capsys.readouterr().err
    assert cli.main(["create-admin", "not an email"]) == 2
    with session_scope() as s:
        assert s.execute(
            select(UserRole.granted_by).where(UserRole.user_id == world["alice"])
        ).scalars().all() == ["cli"]
        grants = s.execute(select(AdminAction).where(AdminAction.action == "role_grant")).scalars().all()
        assert [(g.actor_email, g.target_id) for g in grants] == [("cli", str(world["alice"]))]


def test_audit_search_filters_pages_and_refuses_non_admins(staff):
    with session_scope() as s:
        admin = require_admin(s, staff["admin"], action="test")
        sup = require_admin(s, staff["super"], action="test")
        for i in range(5):
            audit.record(
                s,
                admin,
                action="adjust_credits",
                target_type="user",
                target_id=staff["alice"],
                reason=f"r{i}",
            )
        audit.record(s, sup, action="block_user", target_type="user", target_id=7, before={"blocked": False})
    f = audit.AuditFilter
    with session_scope() as s:
        first = audit.search(s, staff["admin"], f(), limit=4)
        rows = first.items
        assert first.total == 6 and len(rows) == 4 and rows[0].action == "block_user"
        rows = audit.search(s, staff["admin"], f(), token=first.next_token, limit=4).items
        assert [r.reason for r in rows] == ["r1", "r0"]
        assert audit.search(s, staff["admin"], f(actor="SAM@")).total == 1
        assert audit.search(s, staff["admin"], f(action="adjust_credits")).total == 5
        assert audit.search(s, staff["admin"], f(target_type="user", target_id="7")).total == 1
        assert audit.search(s, staff["admin"], f(actor="%")).total == 0  # LIKE wildcards are literal
        later = utcnow() + timedelta(minutes=1)
        assert audit.search(s, staff["admin"], f(since=later)).total == 0
        assert audit.search(s, staff["admin"], f(until=later)).total == 6
        assert audit.actions(s, staff["super"]) == ["adjust_credits", "block_user"]
        for who in (None, staff["alice"]):
            with pytest.raises(AdminRequired):
                audit.search(s, who, f())
            with pytest.raises(AdminRequired):
                audit.actions(s, who)


def test_header_shows_the_admin_link_only_to_staff(staff):
    for token, expected in ((staff["alice_token"], False), (staff["admin_token"], True), ("", False)):
        st = _state(SessionState, token=token)
        SessionState.load_session.fn(st)
        assert st.is_staff is expected


def test_no_admin_credits_or_refunds_their_own_account(staff):
    from lashme.app.admin import accounts, job_actions
    from lashme.credits.unlocks import unlock_variant
    from lashme.errors import DomainError
    from lashme.models import LedgerEntry
    from tests.dbutil import count

    with session_scope() as s, pytest.raises(DomainError) as err:
        accounts.adjust_credits(s, staff["admin"], staff["admin"], 50, "bonus", idempotency_key="self-give-1")
    assert err.value.key == "admin.self_action"
    # Alice becomes an admin too; her own paid unlock may be refunded by someone else, not by her
    with session_scope() as s:
        roles.add_role(s, staff["alice"], Role.ADMIN, granted_by="test")
        unlock_variant(s, user_id=staff["alice"], variant_id=staff["vids"][0], cost=1)
    with session_scope() as s, pytest.raises(DomainError) as err:
        job_actions.refund_job(s, staff["alice"], staff["job"], "my own")
    assert err.value.key == "admin.self_action"
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.kind.in_(["admin_adjust", "job_refund"])) == 0
        assert job_actions.refund_job(s, staff["admin"], staff["job"], "a goodwill refund").amount == 1


def test_a_refused_call_drops_the_admin_view_this_tab_still_held(staff):
    """A demoted (or blocked, or signed-out) admin's tab keeps nothing of another user's data."""
    from lashme.ui.admin.user_detail import AdminUserState
    from tests.integration.app.test_admin_handlers import _run

    st = _state(AdminUserState, token=staff["admin_token"])
    _route(st, f"/admin/users/{staff['alice']}")
    _run(AdminUserState.on_load.fn(st))
    assert st.u_email == "alice@example.com" and st.ledger_rows
    with session_scope() as s:
        roles.remove_role(s, staff["admin"], Role.ADMIN)
    out = _run(AdminUserState.on_load.fn(st))
    assert "redirect" in repr(out) or "/" in repr(out)
    assert st.u_email == "" and st.ledger_rows == [] and st.u_available == 0 and st.is_super is False
