"""Admin services for user accounts, the read side: search, details, ledger pages.

Changes to an account (credits, blocking, roles) are in ``lashme.app.admin.accounts``.

Every public function takes ``(session, actor_id, ...)``, starts with
:func:`lashme.app.admin.guard.require_admin` and writes its audit row
(:func:`lashme.app.admin.audit.record`) in the caller's transaction, so a change
and its audit row commit or roll back together.  Results are plain
dataclasses (never ORM objects) and hold no secrets (no password hashes,
no sign-in tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from lashme.accounts import roles
from lashme.app.admin.guard import require_admin
from lashme.app.credits import LedgerRow, ledger_entries_page
from lashme.app.paging import Page, paginate
from lashme.credits import payments
from lashme.errors import NotFound
from lashme.models import Job, Role, User, UserRole

#: longest email fragment searched for (the email column's width)
MAX_QUERY = 254
#: how many of the user's newest jobs and orders :func:`user_detail` lists
RECENT_JOBS = 20
RECENT_ORDERS = 20


@dataclass(frozen=True)
class _UserCols:
    id: int
    email: str
    created_at: datetime
    balance: int
    held: int
    is_blocked: bool


@dataclass(frozen=True)
class UserRow:
    """One user in the search results.

    Attributes:
        id: user id.
        email: sign-in email.
        created_at: when the account was made (aware UTC).
        available: credits that can be spent now.
        held: credits reserved by running jobs.
        blocked: the account is blocked.
        roles: staff roles held, sorted (``admin``, ``super_admin``).
        jobs: how many jobs the user owns.
    """

    id: int
    email: str
    created_at: datetime
    available: int
    held: int
    blocked: bool
    roles: list[str]
    jobs: int


@dataclass(frozen=True)
class JobBrief:
    """One of the user's jobs on the detail page.

    Attributes:
        id: job id (32 hex).
        status: ``JobStatus`` value.
        created_at: when it was submitted.
        provider: generation provider name.
    """

    id: str
    status: str
    created_at: datetime
    provider: str


@dataclass(frozen=True)
class OrderBrief:
    """One of the user's credit-pack orders on the detail page.

    Attributes:
        id: order id.
        created_at: when checkout started.
        pack_code: the pack bought.
        credits: credits in the pack.
        amount_cents: price paid, in the currency's minor unit.
        currency: ISO currency code.
        status: ``OrderStatus`` value.
    """

    id: str
    created_at: datetime
    pack_code: str
    credits: int
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True)
class UserDetail:
    """Everything the user page shows except the ledger (see :func:`ledger_page`).

    Attributes:
        id: user id.
        email: sign-in email.
        created_at: when the account was made.
        blocked: the account is blocked.
        roles: staff roles held, sorted.
        available: credits that can be spent now.
        held: credits reserved by running jobs.
        jobs: the newest jobs (at most :data:`RECENT_JOBS`).
        job_count: how many jobs the user owns in all.
        orders: the newest orders (at most :data:`RECENT_ORDERS`).
    """

    id: int
    email: str
    created_at: datetime
    blocked: bool
    roles: list[str]
    available: int
    held: int
    jobs: list[JobBrief]
    job_count: int
    orders: list[OrderBrief]


def _user_id(value: object) -> int:
    """A target user id as a positive int.

    Raises:
        NotFound: ``admin.user_not_found`` for anything that is not one.
    """
    if isinstance(value, bool):
        raise NotFound("admin.user_not_found")
    try:
        uid = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise NotFound("admin.user_not_found") from None
    if isinstance(value, float) and value != uid:
        raise NotFound("admin.user_not_found")
    if not 0 < uid < 2**63:
        raise NotFound("admin.user_not_found")
    return uid


def _target(session: Session, user_id: object, *, lock: bool = False) -> User:
    uid = _user_id(user_id)
    stmt = select(User).where(User.id == uid)
    if lock:
        stmt = stmt.with_for_update()
    user = session.execute(stmt).scalar_one_or_none()
    if user is None:
        raise NotFound("admin.user_not_found")
    return user


def _role_names(session: Session, user_id: int) -> list[str]:
    return sorted(r.value for r in roles.roles_of(session, user_id))


def search_users(
    session: Session, actor_id: int | None, query: str, *, token: str | None = None, limit: int = 25
) -> Page[UserRow]:
    """Users whose email contains ``query`` (case-insensitive), newest first, one page.

    ``%`` and ``_`` in ``query`` match themselves (LIKE wildcards are escaped).

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        query: part of the email; blank lists everyone.  Cut to 254 characters.
        token: page token from an earlier page of this list (None or unusable → the first page).
        limit: rows per page, clamped to 1..200.

    Returns:
        The :class:`~lashme.app.paging.Page` of :class:`UserRow`; ``total`` is how many users match.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="users.search")
    text = query.strip()[:MAX_QUERY].lower() if isinstance(query, str) else ""
    conds = [func.lower(User.email).contains(text, autoescape=True)] if text else []
    page = paginate(
        session,
        select(User.id, User.email, User.created_at, User.balance, User.held, User.is_blocked).where(*conds),
        order=(User.created_at.desc(), User.id.desc()),
        token=token,
        limit=limit,
        scope="admin.users",
        count=True,
    )
    users = page.map(lambda row: _UserCols(*row))
    ids = [u.id for u in users.items]
    held_roles: dict[int, list[str]] = {uid: [] for uid in ids}
    job_counts: dict[int, int] = {}
    if ids:
        for uid, role in session.execute(
            select(UserRole.user_id, UserRole.role).where(UserRole.user_id.in_(ids))
        ).all():
            held_roles[uid].append(str(Role(role).value))
        job_counts = dict(
            session.execute(
                select(Job.user_id, func.count()).where(Job.user_id.in_(ids)).group_by(Job.user_id)
            ).all()
        )
    return users.map(
        lambda u: UserRow(
            id=u.id,
            email=u.email,
            created_at=u.created_at,
            available=u.balance - u.held,
            held=u.held,
            blocked=bool(u.is_blocked),
            roles=sorted(held_roles[u.id]),
            jobs=int(job_counts.get(u.id, 0)),
        )
    )


def user_detail(session: Session, actor_id: int | None, user_id: int) -> UserDetail:
    """One user's account, balance, roles, newest jobs and orders.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        user_id: the user to show.

    Returns:
        A :class:`UserDetail`.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.user_not_found``.
    """
    require_admin(session, actor_id, action="users.detail")
    user = _target(session, user_id)
    jobs = [
        JobBrief(id=j.id, status=str(j.status), created_at=j.created_at, provider=j.provider)
        for j in session.execute(
            select(Job)
            .where(Job.user_id == user.id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(RECENT_JOBS)
        ).scalars()
    ]
    job_count = session.execute(
        select(func.count()).select_from(Job).where(Job.user_id == user.id)
    ).scalar_one()
    orders = [
        OrderBrief(
            id=o.id,
            created_at=o.created_at,
            pack_code=o.pack_code,
            credits=o.credits,
            amount_cents=o.amount_cents,
            currency=o.currency,
            status=str(o.status),
        )
        for o in payments.orders_of(session, user.id, limit=RECENT_ORDERS)
    ]
    return UserDetail(
        id=user.id,
        email=user.email,
        created_at=user.created_at,
        blocked=bool(user.is_blocked),
        roles=_role_names(session, user.id),
        available=user.balance - user.held,
        held=user.held,
        jobs=jobs,
        job_count=job_count,
        orders=orders,
    )


def ledger_page(
    session: Session, actor_id: int | None, user_id: int, token: str | None = None, limit: int = 20
) -> Page[LedgerRow]:
    """One page of a user's credit ledger, newest first.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        user_id: whose ledger.
        token: page token from an earlier page of this ledger (None or unusable → the newest entries).
        limit: entries per page, clamped to 1..200.

    Returns:
        The :class:`~lashme.app.paging.Page` of :class:`LedgerRow`; ``total`` is the user's entry count.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.user_not_found``.
    """
    require_admin(session, actor_id, action="users.ledger")
    user = _target(session, user_id)
    return ledger_entries_page(session, user.id, token, limit)


__all__ = [
    "JobBrief",
    "LedgerRow",
    "OrderBrief",
    "UserDetail",
    "UserRow",
    "ledger_page",
    "search_users",
    "user_detail",
]
