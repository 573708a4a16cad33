"""Admin stats: per-UTC-day figures for the last 7, 30 or 90 days, and the admin home's overview.

How the figures are computed (the same on SQLite and PostgreSQL): each query
selects a few narrow columns of the rows inside the window (one range
condition on an indexed timestamp) and the bucketing into UTC days happens
in Python, so no database-specific date functions are needed.  The window
is the last ``days`` whole UTC days including today: ``[today - (days-1)
00:00 UTC, tomorrow 00:00 UTC)``.

Per day:

- ``jobs``: jobs created that day (``Job.created_at``).
- ``done`` / ``failed``: jobs whose current status is DONE / FAILED and that
  finished that day (``Job.finished_at``); ``success_rate`` is
  ``done / (done + failed)``, None when both are zero.
- ``p50_s`` / ``p95_s``: generation time of those DONE jobs, ``finished_at -
  started_at`` in seconds (``started_at`` is the start of the last run).
  Percentiles use :func:`statistics.quantiles` with ``method="inclusive"``
  (linear interpolation between closest ranks, the same as numpy's default
  ``percentile`` method); one sample is its own p50 and p95; None without samples.
- ``unlocks``: :class:`~lashme.models.Unlock` rows created that day.
- ``credits_sold`` / ``revenue``: orders credited that day
  (``Order.credited_at``), gross: a later refund does not remove them.
  Revenue is in minor units per currency (``{"usd": 1800}``).
- ``provider_cost_usd``: the estimated provider cost
  (``Job.provider_cost_usd``) of jobs that finished that day (unfinished
  jobs count on the day they were created).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from redis import Redis
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from lashme.app.admin.guard import require_admin
from lashme.app.admin.queue import queued_count
from lashme.errors import DomainError
from lashme.models import Job, JobStatus, Order, Unlock, User

#: The periods the stats page offers (days).
RANGES = (7, 30, 90)


@dataclass(frozen=True)
class DayStats:
    """Figures of one UTC day (or of the whole period when ``day`` is None); see the module docstring.

    Attributes:
        day: the UTC date, None for the period's totals.
        jobs: jobs created.
        done: jobs finished DONE.
        failed: jobs finished FAILED.
        success_rate: ``done / (done + failed)`` in 0..1, None when no job finished.
        p50_s: median generation seconds of the DONE jobs, None without any.
        p95_s: 95th percentile generation seconds, None without any.
        unlocks: variants unlocked.
        credits_sold: credits of orders credited.
        revenue: minor units per currency of orders credited (``{"usd": 1800}``).
        provider_cost_usd: estimated provider cost, USD.
    """

    day: date | None
    jobs: int = 0
    done: int = 0
    failed: int = 0
    success_rate: float | None = None
    p50_s: float | None = None
    p95_s: float | None = None
    unlocks: int = 0
    credits_sold: int = 0
    revenue: dict[str, int] = field(default_factory=dict)
    provider_cost_usd: float = 0.0


@dataclass(frozen=True)
class StatsReport:
    """:func:`daily_stats`'s answer.

    Attributes:
        days: period length (7, 30 or 90).
        first_day: first UTC day of the window.
        last_day: last UTC day of the window (today).
        rows: one :class:`DayStats` per day, oldest first, days without activity included.
        totals: the whole period (``day`` None).
        currencies: every currency with revenue in the period, sorted (``usd`` first).
    """

    days: int
    first_day: date
    last_day: date
    rows: list[DayStats]
    totals: DayStats
    currencies: list[str]


@dataclass(frozen=True)
class Overview:
    """Live figures for the admin home.

    Attributes:
        users: registered users.
        jobs_today: jobs created today (UTC).
        failed_today: jobs that failed today (UTC).
        queued: jobs waiting in the RQ queue now; None when Redis does not answer.
        revenue_7d: minor units per currency credited in the last 7 UTC days.
    """

    users: int
    jobs_today: int
    failed_today: int
    queued: int | None
    revenue_7d: dict[str, int]


def percentiles(samples: Iterable[float]) -> tuple[float | None, float | None]:
    """``(p50, p95)`` of ``samples`` (method: see the module docstring); ``(None, None)`` when empty."""
    data = sorted(float(x) for x in samples)
    if not data:
        return None, None
    if len(data) == 1:
        return data[0], data[0]
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return cuts[49], cuts[94]


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day(dt: datetime) -> date:
    return _utc(dt).date()


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        raise TypeError("now must be a datetime")
    return _utc(now)


def _window(days: int, now: datetime) -> tuple[date, date, datetime, datetime]:
    last = now.date()
    first = last - timedelta(days=days - 1)
    return (
        first,
        last,
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )


def _in(col, start: datetime, end: datetime):
    return and_(col >= start, col < end)


def _revenue(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, int, int, str]]:
    return list(
        session.execute(
            select(Order.credited_at, Order.credits, Order.amount_cents, Order.currency).where(
                Order.credited_at.is_not(None), _in(Order.credited_at, start, end)
            )
        ).all()
    )


def _rate(done: int, failed: int) -> float | None:
    return done / (done + failed) if done + failed else None


def _currency_order(codes: Iterable[str]) -> list[str]:
    return sorted(set(codes), key=lambda c: (c != "usd", c))


def daily_stats(
    session: Session, actor_id: int | None, days: int, *, now: datetime | None = None
) -> StatsReport:
    """Per-UTC-day figures for the last ``days`` days, and their totals.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        days: 7, 30 or 90.
        now: the current time (tests pin it); default the real UTC time.

    Returns:
        The :class:`StatsReport`.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.stats.bad_range`` when ``days`` is not 7, 30 or 90.
        TypeError: ``now`` is not a datetime.
    """
    require_admin(session, actor_id, action="stats.daily")
    if isinstance(days, bool) or not isinstance(days, int) or days not in RANGES:
        raise DomainError("admin.stats.bad_range")
    now = _now(now)
    first, last, start, end = _window(days, now)

    created = Counter(
        _day(c)
        for c in session.execute(select(Job.created_at).where(_in(Job.created_at, start, end))).scalars()
    )
    done, failed = Counter(), Counter()
    durations: dict[date, list[float]] = defaultdict(list)
    for status, started, finished in session.execute(
        select(Job.status, Job.started_at, Job.finished_at).where(
            Job.status.in_([JobStatus.DONE, JobStatus.FAILED]), _in(Job.finished_at, start, end)
        )
    ).all():
        d = _day(finished)
        if status == JobStatus.DONE:
            done[d] += 1
            if started is not None:
                durations[d].append(max(0.0, (_utc(finished) - _utc(started)).total_seconds()))
        else:
            failed[d] += 1
    cost: dict[date, float] = defaultdict(float)
    for usd, finished, created_at in session.execute(
        select(Job.provider_cost_usd, Job.finished_at, Job.created_at).where(
            Job.provider_cost_usd.is_not(None),
            or_(
                _in(Job.finished_at, start, end),
                and_(Job.finished_at.is_(None), _in(Job.created_at, start, end)),
            ),
        )
    ).all():
        cost[_day(finished or created_at)] += float(usd)
    unlocks = Counter(
        _day(c)
        for c in session.execute(
            select(Unlock.created_at).where(_in(Unlock.created_at, start, end))
        ).scalars()
    )
    credits: Counter = Counter()
    revenue: dict[date, Counter] = defaultdict(Counter)
    for credited, n, amount, currency in _revenue(session, start, end):
        d = _day(credited)
        credits[d] += n
        revenue[d][currency.lower()] += amount

    rows = []
    for i in range(days):
        d = first + timedelta(days=i)
        p50, p95 = percentiles(durations.get(d, ()))
        rows.append(
            DayStats(
                day=d,
                jobs=created[d],
                done=done[d],
                failed=failed[d],
                success_rate=_rate(done[d], failed[d]),
                p50_s=p50,
                p95_s=p95,
                unlocks=unlocks[d],
                credits_sold=credits[d],
                revenue=dict(revenue[d]),
                provider_cost_usd=round(cost[d], 6),
            )
        )
    all_revenue: Counter = Counter()
    for per_day in revenue.values():
        all_revenue.update(per_day)
    p50, p95 = percentiles(x for samples in durations.values() for x in samples)
    totals = DayStats(
        day=None,
        jobs=sum(created.values()),
        done=sum(done.values()),
        failed=sum(failed.values()),
        success_rate=_rate(sum(done.values()), sum(failed.values())),
        p50_s=p50,
        p95_s=p95,
        unlocks=sum(unlocks.values()),
        credits_sold=sum(credits.values()),
        revenue=dict(all_revenue),
        provider_cost_usd=round(sum(cost.values()), 6),
    )
    return StatsReport(
        days=days,
        first_day=first,
        last_day=last,
        rows=rows,
        totals=totals,
        currencies=_currency_order(all_revenue),
    )


def overview(
    session: Session, actor_id: int | None, *, now: datetime | None = None, connection: Redis | None = None
) -> Overview:
    """The admin home's live figures: users, today's jobs and failures, the queue, last 7 days' revenue.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        now: the current time (tests pin it); default the real UTC time.
        connection: Redis connection (default: the app's).

    Returns:
        The :class:`Overview` (``queued`` None when Redis does not answer).

    Raises:
        AdminRequired: the caller is not an admin.
        TypeError: ``now`` is not a datetime.
    """
    require_admin(session, actor_id, action="stats.overview")
    now = _now(now)
    _, _, today, tomorrow = _window(1, now)
    users = session.execute(select(func.count()).select_from(User)).scalar_one()
    jobs_today = session.execute(
        select(func.count()).select_from(Job).where(_in(Job.created_at, today, tomorrow))
    ).scalar_one()
    failed_today = session.execute(
        select(func.count())
        .select_from(Job)
        .where(Job.status == JobStatus.FAILED, _in(Job.finished_at, today, tomorrow))
    ).scalar_one()
    _, _, start, end = _window(7, now)
    revenue: Counter = Counter()
    for _, _, amount, currency in _revenue(session, start, end):
        revenue[currency.lower()] += amount
    session.commit()  # end the read transaction (SQLite's write lock) before waiting on Redis
    return Overview(
        users=users,
        jobs_today=jobs_today,
        failed_today=failed_today,
        queued=queued_count(connection),
        revenue_7d={c: revenue[c] for c in _currency_order(revenue)},
    )
