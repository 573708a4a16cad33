"""Admin user services (lashme.app.admin.users), the audit log reads, and the users/audit page handlers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.accounts import auth, roles
from lashme.app.admin import accounts, audit
from lashme.app.admin import users as admin_users
from lashme.app.admin.guard import AdminRequired, require_admin
from lashme.credits import ledger, ledger_check
from lashme.errors import AuthError, DomainError, InsufficientCredits, NotFound
from lashme.jobs import uploads
from lashme.models import AdminAction, AuthSession, Job, LedgerEntry, Role, User, UserRole
from lashme.ops.db import session_scope
from lashme.ui.admin.audit import AdminAuditState
from lashme.ui.admin.user_detail import AdminUserState
from lashme.ui.admin.users import AdminUsersState
from tests.dbutil import count
from tests.integration.app.test_handlers import _route, _spec_text, _state
from tests.photos import chelsea_jpeg

KEY = "form-key-0001"


def _uid(email: str) -> int:
    with session_scope() as s:
        return s.execute(select(User.id).where(User.email == email)).scalar_one()


def _sign_up(email: str) -> int:
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=3).id


def _balance(user_id: int) -> tuple[int, int]:
    with session_scope() as s:
        b = ledger.get_balance(s, user_id)
        return b.available, b.held


def _audit_rows(**where) -> list[AdminAction]:
    with session_scope() as s:
        conds = [getattr(AdminAction, k) == v for k, v in where.items()]
        rows = list(s.execute(select(AdminAction).where(*conds).order_by(AdminAction.id)).scalars())
        s.expunge_all()
        return rows


def _adjust_entries(user_id: int) -> list[LedgerEntry]:
    with session_scope() as s:
        rows = list(
            s.execute(
                select(LedgerEntry).where(LedgerEntry.user_id == user_id, LedgerEntry.kind == "admin_adjust")
            ).scalars()
        )
        s.expunge_all()
        return rows


def _call(fn, actor, *args, **kwargs):
    with session_scope() as s:
        return fn(s, actor, *args, **kwargs)


def _service_calls(target: int):
    return {
        "search_users": lambda s, a: admin_users.search_users(s, a, "", limit=10),
        "user_detail": lambda s, a: admin_users.user_detail(s, a, target),
        "ledger_page": lambda s, a: admin_users.ledger_page(s, a, target, None, 10),
        "adjust_credits": lambda s, a: accounts.adjust_credits(s, a, target, 5, "hi", idempotency_key=KEY),
        "set_blocked": lambda s, a: accounts.set_blocked(s, a, target, True),
        "set_role": lambda s, a: accounts.set_role(s, a, target, "admin", True),
        "audit.search": lambda s, a: audit.search(s, a, audit.AuditFilter()),
        "audit.actions": lambda s, a: audit.actions(s, a),
    }


@pytest.mark.parametrize("name", list(_service_calls(0)))
def test_every_service_refuses_visitors_and_normal_users(staff, name):
    alice, bob = staff["alice"], _uid("bob@example.com")
    call = _service_calls(alice)[name]
    before = _balance(alice)
    for caller in (None, bob, alice, 10**9):
        with pytest.raises(AdminRequired) as exc, session_scope() as s:
            call(s, caller)
        assert exc.value.key == "admin.forbidden"
    assert _balance(alice) == before
    assert _audit_rows() == [] and _adjust_entries(alice) == []
    with session_scope() as s:
        assert not s.get(User, alice).is_blocked
        assert roles.roles_of(s, alice) == frozenset()
        assert count(s, AuthSession, AuthSession.user_id == alice) == 1


def test_adjust_writes_the_ledger_entry_and_the_audit_row(staff):
    alice, admin = staff["alice"], staff["admin"]
    avail0, held0 = _balance(alice)
    result = _call(
        accounts.adjust_credits, admin, alice, 5, "  goodwill after a failed job ", idempotency_key=KEY
    )
    assert (result.created, result.available, result.held) == (True, avail0 + 5, held0)
    assert _balance(alice) == (avail0 + 5, held0)
    [entry] = _adjust_entries(alice)
    assert (entry.delta, entry.kind, entry.actor, entry.reason) == (
        5,
        "admin_adjust",
        f"admin:{admin}",
        "goodwill after a failed job",
    )
    assert entry.id == result.entry_id
    [row] = _audit_rows()
    assert (row.actor_id, row.actor_email, row.action) == (admin, "ada@staff.example.com", "adjust_credits")
    assert (row.target_type, row.target_id, row.reason) == ("user", str(alice), "goodwill after a failed job")
    assert row.before == {"available": avail0, "held": held0}
    assert row.after == {"available": avail0 + 5, "held": held0}
    with session_scope() as s:
        assert ledger_check.verify(s).ok


def test_removal_may_reach_zero_but_never_below(staff):
    alice, sup = staff["alice"], staff["super"]
    avail0, _ = _balance(alice)
    assert avail0 > 0
    _call(accounts.adjust_credits, sup, alice, -avail0, "duplicate bonus", idempotency_key="take-all-01")
    assert _balance(alice)[0] == 0
    [row] = _audit_rows()
    assert (row.before["available"], row.after["available"]) == (avail0, 0)
    with pytest.raises(InsufficientCredits) as exc:
        _call(accounts.adjust_credits, sup, alice, -1, "one more", idempotency_key="take-one-01")
    assert isinstance(exc.value, DomainError)
    assert exc.value.key == "admin.insufficient" and exc.value.params == {"available": 0}
    assert "below zero" in str(exc.value)
    assert _balance(alice)[0] == 0
    assert len(_adjust_entries(alice)) == 1 and len(_audit_rows()) == 1


def test_adjust_validates_amount_reason_user_and_key(staff):
    alice, admin = staff["alice"], staff["admin"]
    for delta in (0, 10_001, -10_001, True, "5", 1.5, None):
        with pytest.raises(DomainError) as exc:
            _call(accounts.adjust_credits, admin, alice, delta, "why", idempotency_key=KEY)
        assert exc.value.key == "admin.bad_amount" and exc.value.params == {"max": 10_000}, delta
    for reason in ("", "   ", None, 5):
        with pytest.raises(DomainError) as exc:
            _call(accounts.adjust_credits, admin, alice, 5, reason, idempotency_key=KEY)
        assert exc.value.key == "admin.reason_required"
    for target in (10**9, -1, 0, "abc", None, True, 2.5, 10**30):
        with pytest.raises(NotFound) as exc:
            _call(accounts.adjust_credits, admin, target, 5, "why", idempotency_key=KEY)
        assert exc.value.key == "admin.user_not_found"
    for key in ("", "short", "x" * 65, "has space!", None, 12345678):
        with pytest.raises(ValueError):
            _call(accounts.adjust_credits, admin, alice, 5, "why", idempotency_key=key)
    assert _adjust_entries(alice) == [] and _audit_rows() == []
    _call(accounts.adjust_credits, admin, alice, 10_000, "x" * 400, idempotency_key=KEY)
    [entry] = _adjust_entries(alice)
    assert entry.delta == 10_000 and len(entry.reason) == 255 and len(_audit_rows()[0].reason) == 255


def test_replaying_an_idempotency_key_changes_nothing_and_writes_no_second_audit_row(staff):
    alice, admin = staff["alice"], staff["admin"]
    avail0, _ = _balance(alice)
    first = _call(accounts.adjust_credits, admin, alice, 5, "promo", idempotency_key=KEY)
    again = _call(accounts.adjust_credits, admin, alice, 5, "promo", idempotency_key=KEY)
    other_amount = _call(accounts.adjust_credits, admin, alice, 7, "promo", idempotency_key=KEY)
    assert first.created and not again.created and not other_amount.created
    assert first.entry_id == again.entry_id == other_amount.entry_id
    assert _balance(alice)[0] == avail0 + 5
    assert len(_adjust_entries(alice)) == 1 and len(_audit_rows(action="adjust_credits")) == 1
    # the same form key used for another user is another adjustment
    bob = _uid("bob@example.com")
    _call(accounts.adjust_credits, admin, bob, 2, "promo", idempotency_key=KEY)
    assert _balance(bob)[0] == 5 and len(_audit_rows(action="adjust_credits")) == 2


def test_blocking_ends_sessions_and_refuses_sign_in_and_uploads(staff):
    alice, admin = staff["alice"], staff["admin"]
    with session_scope() as s:
        auth.start_session(s, user_id=alice)  # a second browser
        jobs_before = count(s, Job, Job.user_id == alice)
    assert _call(accounts.set_blocked, admin, alice, True) is True
    with session_scope() as s:
        assert count(s, AuthSession, AuthSession.user_id == alice) == 0
        assert count(s, AuthSession) > 0  # the others' sessions stay
        assert auth.user_for_token(s, staff["alice_token"]) is None
        with pytest.raises(AuthError) as exc:
            auth.authenticate(s, email="alice@example.com", password="Secret123")
        assert exc.value.key == "auth.blocked"
    with pytest.raises(AuthError) as exc:
        uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    assert exc.value.key == "auth.blocked"
    with session_scope() as s:
        assert count(s, Job, Job.user_id == alice) == jobs_before
    [row] = _audit_rows()
    assert (row.action, row.target_id, row.actor_id) == ("block_user", str(alice), admin)
    assert row.before == {"blocked": False} and row.after == {"blocked": True, "sessions_ended": 2}

    assert _call(accounts.set_blocked, admin, alice, True) is False  # already blocked: no second row
    assert len(_audit_rows()) == 1
    assert _call(accounts.set_blocked, admin, alice, False) is True
    assert [r.action for r in _audit_rows()] == ["block_user", "unblock_user"]
    assert _audit_rows(action="unblock_user")[0].after == {"blocked": False}
    with session_scope() as s:
        assert auth.authenticate(s, email="alice@example.com", password="Secret123").id == alice
    assert (
        uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False).user_id == alice
    )


def test_block_rules_for_self_and_staff(staff):
    admin, sup = staff["admin"], staff["super"]
    for actor, target, key in ((admin, admin, "admin.self_action"), (admin, sup, "admin.super_required")):
        with pytest.raises(DomainError) as exc:
            _call(accounts.set_blocked, actor, target, True)
        assert exc.value.key == key and not isinstance(exc.value, AdminRequired)
    with pytest.raises(DomainError) as exc:
        _call(accounts.set_blocked, sup, sup, True)
    assert exc.value.key == "admin.self_action"
    with pytest.raises(ValueError):
        _call(accounts.set_blocked, sup, admin, "yes")
    assert _audit_rows() == []
    # a super admin blocks an admin, who loses the admin pages at once
    _call(accounts.set_blocked, sup, admin, True)
    with pytest.raises(AdminRequired), session_scope() as s:
        require_admin(s, admin, action="test")


def test_only_a_super_admin_grants_and_revokes_roles(staff):
    alice, admin, sup = staff["alice"], staff["admin"], staff["super"]
    with pytest.raises(AdminRequired) as exc:
        _call(accounts.set_role, admin, alice, "admin", True)
    assert exc.value.key == "admin.super_required"
    with pytest.raises(AdminRequired):
        _call(accounts.set_role, admin, admin, "super_admin", True)
    with session_scope() as s:
        assert roles.roles_of(s, alice) == frozenset() and roles.roles_of(s, admin) == {Role.ADMIN}
    assert _audit_rows() == []

    assert _call(accounts.set_role, sup, alice, "admin", True) == ["admin"]
    with session_scope() as s:
        assert require_admin(s, alice, action="test").id == alice
        assert (
            s.execute(select(UserRole.granted_by).where(UserRole.user_id == alice)).scalar_one()
            == f"admin:{sup}"
        )
    [row] = _audit_rows()
    assert (row.action, row.actor_id, row.target_id) == ("role_grant", sup, str(alice))
    assert (row.before, row.after) == ({"roles": []}, {"roles": ["admin"]})
    assert _call(accounts.set_role, sup, alice, "admin", True) == ["admin"]  # held already: no row
    assert len(_audit_rows()) == 1
    assert _call(accounts.set_role, sup, alice, "admin", False) == []
    revoke = _audit_rows(action="role_revoke")[0]
    assert (revoke.before, revoke.after) == ({"roles": ["admin"]}, {"roles": []})
    with pytest.raises(AdminRequired), session_scope() as s:
        require_admin(s, alice, action="test")

    with pytest.raises(DomainError) as exc:
        _call(accounts.set_role, sup, sup, "super_admin", False)
    assert exc.value.key == "admin.self_action"
    with session_scope() as s:
        assert Role.SUPER_ADMIN in roles.roles_of(s, sup)
    for role, granted in (("owner", True), (None, True), ("admin", "yes")):
        with pytest.raises(ValueError):
            _call(accounts.set_role, sup, alice, role, granted)
    # a super admin makes another super admin, who may then demote the first
    assert _call(accounts.set_role, sup, admin, "super_admin", True) == ["admin", "super_admin"]
    assert _call(accounts.set_role, admin, sup, "super_admin", False) == []
    with pytest.raises(AdminRequired), session_scope() as s:
        require_admin(s, sup, action="test")


def test_search_is_partial_case_insensitive_paginated_and_escapes_wildcards(staff):
    admin = staff["admin"]
    made = [_sign_up(f"page{i}.client@salon.test") for i in range(5)]
    under = _sign_up("under_score@salon.test")
    plain = _sign_up("underxscore@salon.test")

    found = _call(admin_users.search_users, admin, "ALI", limit=10)
    rows, total = found.items, found.total
    assert total == 1 and [r.email for r in rows] == ["alice@example.com"] and found.next_token is None
    alice_row = rows[0]
    avail, held = _balance(staff["alice"])
    assert (alice_row.id, alice_row.available, alice_row.held, alice_row.blocked) == (
        staff["alice"],
        avail,
        held,
        False,
    )
    assert (alice_row.roles, alice_row.jobs) == ([], 1)

    rows = _call(admin_users.search_users, admin, "Staff.Example", limit=10).items
    assert {(r.email, tuple(r.roles)) for r in rows} == {
        ("ada@staff.example.com", ("admin",)),
        ("sam@staff.example.com", ("super_admin",)),
    }

    first = _call(admin_users.search_users, admin, "  .client@SALON ", limit=2)
    assert first.total == 5 and [r.id for r in first.items] == made[:-3:-1]  # newest first
    assert first.has_more and first.prev_token is None
    second = _call(admin_users.search_users, admin, ".client@salon", token=first.next_token, limit=2)
    third = _call(admin_users.search_users, admin, ".client@salon", token=second.next_token, limit=2)
    assert [r.id for r in third.items] == [made[0]] and not third.has_more and third.next_token is None
    back = _call(admin_users.search_users, admin, ".client@salon", token=third.prev_token, limit=2)
    assert [r.id for r in back.items] == [r.id for r in second.items]
    rows = _call(admin_users.search_users, admin, ".client@salon", token="x", limit=10**6).items
    assert len(rows) == 5  # a garbage token is the first page; the size is clamped

    assert [r.id for r in _call(admin_users.search_users, admin, "under_", limit=10).items] == [under]
    for text in ("%", "under%score"):
        nothing = _call(admin_users.search_users, admin, text, limit=10)
        assert (nothing.items, nothing.total) == ((), 0)
    assert plain in [r.id for r in _call(admin_users.search_users, admin, "UNDERX", limit=10).items]
    assert _call(admin_users.search_users, admin, "", limit=1).total == 4 + 7


def test_user_detail_and_ledger_pages(staff):
    alice, admin = staff["alice"], staff["admin"]
    for i in range(3):
        _call(accounts.adjust_credits, admin, alice, 1, f"gift {i}", idempotency_key=f"gift-key-{i:04d}")
    detail = _call(admin_users.user_detail, admin, alice)
    avail, held = _balance(alice)
    assert (detail.id, detail.email, detail.blocked, detail.roles) == (alice, "alice@example.com", False, [])
    assert (detail.available, detail.held, detail.job_count) == (avail, held, 1)
    assert [(j.id, j.status) for j in detail.jobs] == [(staff["job"], "DONE")]
    assert detail.orders == []
    assert not hasattr(detail, "password_hash")
    with session_scope() as s:
        n = ledger.count_entries(s, alice)
    page = _call(admin_users.ledger_page, admin, alice, None, 2)
    rows = page.items
    assert page.total == n and [r.reason for r in rows] == ["gift 2", "gift 1"]
    assert rows[0].actor == f"admin:{admin}" and rows[0].kind == "admin_adjust" and rows[0].delta == 1
    while page.next_token:
        page = _call(admin_users.ledger_page, admin, alice, page.next_token, 2)
    assert page.items[-1].kind == "signup_bonus"
    with pytest.raises(NotFound):
        _call(admin_users.user_detail, admin, 10**9)
    with pytest.raises(NotFound):
        _call(admin_users.ledger_page, admin, "1; drop table users", None, 2)


def test_audit_search_filters_and_action_names(staff):
    alice, admin, sup = staff["alice"], staff["admin"], staff["super"]
    _call(accounts.adjust_credits, admin, alice, 2, "promo", idempotency_key=KEY)
    _call(accounts.set_blocked, sup, alice, True)
    _call(accounts.set_role, sup, admin, "super_admin", True)
    assert _call(audit.actions, admin) == ["adjust_credits", "block_user", "role_grant"]
    found = _call(audit.search, admin, audit.AuditFilter())
    assert found.total == 3 and [r.action for r in found.items] == [
        "role_grant",
        "block_user",
        "adjust_credits",
    ]
    assert _call(audit.search, admin, audit.AuditFilter(actor="SAM@")).total == 2
    rows = _call(audit.search, admin, audit.AuditFilter(target_type="user", target_id=str(alice))).items
    assert {r.action for r in rows} == {"adjust_credits", "block_user"}
    rows = _call(audit.search, admin, audit.AuditFilter(action="block_user")).items
    assert [r.actor_email for r in rows] == ["sam@staff.example.com"]
    assert _call(audit.search, admin, audit.AuditFilter(actor="%")).total == 0


# --- page handlers ---------------------------------------------------------------------------------


def _with_path(st, path: str):
    return _route(st, path, origin="http://localhost:3000")


def _turned_away(out) -> bool:
    text = _spec_text(out)
    return "redirect" in text and "staff only" in text


@pytest.mark.parametrize("cls", [AdminUsersState, AdminUserState, AdminAuditState])
def test_pages_turn_away_normal_users_and_fill_nothing(staff, cls):
    alice = staff["alice"]
    st = _with_path(_state(cls, token=staff["bob_token"]), f"/admin/users/{alice}")
    assert _turned_away(cls.on_load.fn(st))
    data = ("rows", "u_email", "jobs", "ledger_rows", "orders", "action_names")
    assert all(not getattr(st, name, None) for name in data)
    visitor = _with_path(_state(cls), "/admin/audit")
    assert "/login" in _spec_text(cls.on_load.fn(visitor))


def test_user_page_handlers_for_a_normal_user_change_nothing(staff):
    alice = staff["alice"]
    st = _with_path(_state(AdminUserState, token=staff["bob_token"]), f"/admin/users/{alice}")
    assert _turned_away(AdminUserState.set_amount.fn(st, "50"))
    assert _turned_away(AdminUserState.set_reason.fn(st, "free"))
    assert st.amount == st.reason == ""
    assert _turned_away(AdminUserState.submit_adjust.fn(st, {"amount": "50", "reason": "free"}))
    assert _turned_away(AdminUserState.set_blocked.fn(st, alice, True))
    assert _turned_away(AdminUserState.change_role.fn(st, alice, "super_admin", True))
    assert _turned_away(AdminUserState.older_ledger.fn(st))
    assert st.u_email == "" and st.ledger_rows == [] and st.shown_id == 0
    assert _adjust_entries(alice) == [] and _audit_rows() == []
    with session_scope() as s:
        assert not s.get(User, alice).is_blocked


def test_admin_adjusts_credits_once_on_a_double_click(staff):
    alice = staff["alice"]
    avail0, _ = _balance(alice)
    st = _with_path(_state(AdminUserState, token=staff["admin_token"]), f"/admin/users/{alice}")
    AdminUserState.on_load.fn(st)
    assert (st.shown_id, st.u_email, st.u_available, st.is_super) == (
        alice,
        "alice@example.com",
        avail0,
        False,
    )
    assert [j["id"] for j in st.jobs] == [staff["job"]] and st.ledger_rows
    AdminUserState.set_amount.fn(st, "5")
    AdminUserState.set_reason.fn(st, "sorry for the wait")
    form = {"amount": " +5 ", "reason": "sorry for the wait"}
    first = AdminUserState.submit_adjust.fn(st, form)
    second = AdminUserState.submit_adjust.fn(st, dict(form))  # the double click's second submission
    assert "Available credits now" in _spec_text(first) and second is None
    assert st.u_available == avail0 + 5 and _balance(alice)[0] == avail0 + 5
    assert len(_adjust_entries(alice)) == 1 and len(_audit_rows(action="adjust_credits")) == 1
    assert st.ledger_rows[0]["reason"] == "sorry for the wait" and st.amount == st.reason == ""

    # typing into the form again makes the next submission a new adjustment
    AdminUserState.set_amount.fn(st, "5")
    assert "Available credits now" in _spec_text(AdminUserState.submit_adjust.fn(st, form))
    assert _balance(alice)[0] == avail0 + 10 and len(_audit_rows(action="adjust_credits")) == 2

    AdminUserState.set_amount.fn(st, "-1000")
    out = AdminUserState.submit_adjust.fn(st, {"amount": "-1000", "reason": "too much"})
    assert "below zero" in _spec_text(out)
    for amount in ("lots", "", "1.5", "99999"):
        out = AdminUserState.submit_adjust.fn(st, {"amount": amount, "reason": "x"})
        assert "whole number" in _spec_text(out), amount
    assert "give a reason" in _spec_text(AdminUserState.submit_adjust.fn(st, {"amount": "2", "reason": " "}))
    assert "super admin" in _spec_text(AdminUserState.change_role.fn(st, alice, "admin", True))
    assert AdminUserState.change_role.fn(st, alice, "owner", True) is None
    assert len(_adjust_entries(alice)) == 2

    AdminUserState.set_blocked.fn(st, alice, True)
    assert st.u_blocked
    with session_scope() as s:
        assert s.get(User, alice).is_blocked
    assert "own account" in _spec_text(AdminUserState.set_blocked.fn(st, staff["admin"], True))


def test_audit_page_filters_from_the_url_and_the_form(staff):
    alice, admin = staff["alice"], staff["admin"]
    _call(accounts.adjust_credits, admin, alice, 2, "promo", idempotency_key=KEY)
    _call(accounts.set_blocked, staff["super"], _uid("bob@example.com"), True)
    st = _with_path(
        _state(AdminAuditState, token=staff["admin_token"]),
        f"/admin/audit?target_type=user&target_id={alice}",
    )
    AdminAuditState.on_load.fn(st)
    assert [r["action"] for r in st.rows] == ["adjust_credits"] and st.total == 1
    row = st.rows[0]
    assert row["who"] == "ada@staff.example.com" and row["reason"] == "promo"
    assert row["target_href"] == f"/admin/users/{alice}"
    avail = _balance(alice)[0]
    assert row["change"] == f'{{"available":{avail - 2},"held":0}} → {{"available":{avail},"held":0}}'
    assert st.action_names == ["adjust_credits", "block_user"]
    AdminAuditState.clear_filters.fn(st)
    assert st.total == 2
    AdminAuditState.set_action_filter.fn(st, "block_user")
    assert [r["who"] for r in st.rows] == ["sam@staff.example.com"]
    AdminAuditState.set_action_filter.fn(st, "all")
    AdminAuditState.set_from_filter.fn(st, "2999-01-01")
    AdminAuditState.apply_filters.fn(st, {})
    assert st.total == 0
    AdminAuditState.set_from_filter.fn(st, "yesterday")
    assert "YYYY-MM-DD" in _spec_text(AdminAuditState.apply_filters.fn(st, {}))
    AdminAuditState.set_from_filter.fn(st, "2000-01-01")
    AdminAuditState.set_to_filter.fn(st, "2999-12-31")
    AdminAuditState.apply_filters.fn(st, {})
    assert st.total == 2
    bob = _state(AdminAuditState, token=staff["bob_token"])
    assert _turned_away(AdminAuditState.set_actor_filter.fn(bob, "x")) and bob.f_actor == ""
    assert _turned_away(AdminAuditState.older.fn(bob)) and bob.rows == []
