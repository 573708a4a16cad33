"""Admin jobs, the read side: search, and one job's full record (actions: ``lashme.app.admin.job_actions``).

Every public function takes ``(session, actor_id, ...)`` and starts with
:func:`lashme.app.admin.guard.require_admin`; nothing here changes a row.  A job's record says
what is still refundable: the credits its owner was charged for it less those already refunded
(:func:`_charges`, which :mod:`lashme.app.admin.job_actions` refunds by).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, cast, func, select
from sqlmodel import Session

from lashme.app.admin.guard import require_admin
from lashme.app.credits import LedgerRow
from lashme.app.paging import Page, paginate
from lashme.errors import DomainError, NotFound
from lashme.images import presets
from lashme.jobs import lifecycle as jobs
from lashme.models import (
    Job,
    JobStatus,
    LedgerEntry,
    LedgerKind,
    PresetVersion,
    ProviderRequest,
    User,
    Variant,
)
from lashme.providers.fidelity import ALTERED_BELOW
from lashme.providers.registry import PROVIDERS

#: ledger kinds that charge a job's owner for the job (refunded by :func:`refund_job`)
CHARGE_KINDS = (LedgerKind.CAPTURE, LedgerKind.UNLOCK)
_JOB_ID = re.compile(r"^[0-9a-f]{1,32}$")
_PRESET_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class JobFilter:
    """Filters for :func:`search_jobs`; empty fields match everything.

    Attributes:
        status: a :class:`lashme.models.JobStatus` value.
        provider: ``studio`` or ``fal``.
        preset: a preset name the job runs (e.g. ``warm_glow``).
        date_from: first UTC day (inclusive) of ``created_at``.
        date_to: last UTC day (inclusive) of ``created_at``.
        owner: part of the owner's email (case-insensitive); visitors' jobs never match.
    """

    status: str = ""
    provider: str = ""
    preset: str = ""
    date_from: date | None = None
    date_to: date | None = None
    owner: str = ""


@dataclass(frozen=True)
class JobRow:
    """One row of the jobs table.

    Attributes:
        id: job id.
        created_at: creation time (aware UTC).
        owner: the owner's email, or ``"visitor"`` for an anonymous job.
        is_visitor: True for an anonymous job.
        status: job status.
        provider: provider name.
        latency_s: provider latency (fal), else finished − started (studio), seconds; None if unknown.
        cost_usd: the provider's estimated cost, None when not recorded.
        error_key: message key of a failed job.
    """

    id: str
    created_at: datetime
    owner: str
    is_visitor: bool
    status: str
    provider: str
    latency_s: float | None
    cost_usd: float | None
    error_key: str | None


@dataclass(frozen=True)
class EventRow:
    """One entry of a job's event timeline."""

    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    message: str | None


@dataclass(frozen=True)
class RequestRow:
    """One request the job submitted to an external provider (fal)."""

    index: int
    request_id: str
    model: str
    status: str
    preset_version_id: int | None
    submitted_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class PresetUsed:
    """A preset version a job ran with (pinned at creation)."""

    id: int
    provider: str
    name: str
    version: int
    strength: float
    active: bool


@dataclass(frozen=True)
class VariantScore:
    """One variant's fidelity guard result (``lashme.providers.fidelity``).

    Attributes:
        index: 0..3, the variant's position in the job.
        preset: preset name.
        filtered: held back by the safety filter (no picture, no score).
        fidelity_score: structural fidelity to the original 0..1; None when not measured
            (studio variants, filtered ones, jobs made before the guard).
        altered: scored below the threshold: reshapes the work, not offered for unlock.
    """

    index: int
    preset: str
    filtered: bool
    fidelity_score: float | None
    altered: bool


@dataclass(frozen=True)
class JobDetail:
    """Everything the admin job page shows.

    Attributes:
        refundable: credits :func:`refund_job` would give back now (0 = nothing to refund).
        can_retry: True when the job is FAILED.
        variant_scores: the fidelity guard's score per variant, in variant order.
        fidelity_threshold: the guard's threshold (a score below it is ``altered``).
    """

    id: str
    owner: str
    owner_id: int | None
    status: str
    provider: str
    model: str | None
    presets: list[str]
    preset_versions: list[PresetUsed]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    latency_s: float | None
    cost_usd: float | None
    image_count: int | None
    error_key: str | None
    error_detail: str | None
    reserved_credits: int
    variants: int
    events: list[EventRow] = field(default_factory=list)
    requests: list[RequestRow] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    refundable: int = 0
    can_retry: bool = False
    variant_scores: list[VariantScore] = field(default_factory=list)
    fidelity_threshold: float = ALTERED_BELOW


def _latency(job: Job) -> float | None:
    if job.provider_latency_s is not None:
        return job.provider_latency_s
    if job.started_at is not None and job.finished_at is not None:
        return round((job.finished_at - job.started_at).total_seconds(), 3)
    return None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _check_filter(filters: JobFilter) -> JobFilter:
    """``filters`` with every field checked (types, allowed values, lengths).

    Raises:
        DomainError: ``admin.jobs.bad_filter`` for any invalid field.
    """
    if not isinstance(filters, JobFilter):
        raise DomainError("admin.jobs.bad_filter")
    text = (filters.status, filters.provider, filters.preset, filters.owner)
    if not all(isinstance(v, str) for v in text):
        raise DomainError("admin.jobs.bad_filter")
    if filters.status and filters.status not in set(JobStatus):
        raise DomainError("admin.jobs.bad_filter")
    if filters.provider and filters.provider not in PROVIDERS:
        raise DomainError("admin.jobs.bad_filter")
    if filters.preset and not _PRESET_NAME.match(filters.preset):
        raise DomainError("admin.jobs.bad_filter")
    if len(filters.owner) > 254:
        raise DomainError("admin.jobs.bad_filter")
    for day in (filters.date_from, filters.date_to):
        if day is not None and (not isinstance(day, date) or isinstance(day, datetime)):
            raise DomainError("admin.jobs.bad_filter")
    return filters


def _conditions(filters: JobFilter) -> list:
    conds = []
    if filters.status:
        conds.append(Job.status == filters.status)
    if filters.provider:
        conds.append(Job.provider == filters.provider)
    if filters.preset:
        # ``presets`` is a JSON list of names ([a-z0-9_] only, checked above): its text holds
        # '"name"' exactly when the list does, on SQLite and PostgreSQL alike
        conds.append(cast(Job.presets, String).contains(f'"{filters.preset}"', autoescape=True))
    if filters.date_from is not None:
        conds.append(Job.created_at >= _day_start(filters.date_from))
    if filters.date_to is not None:
        conds.append(Job.created_at < _day_start(filters.date_to) + timedelta(days=1))
    if filters.owner.strip():
        conds.append(func.lower(User.email).contains(filters.owner.strip().lower(), autoescape=True))
    return conds


def search_jobs(
    session: Session, actor_id: int | None, filters: JobFilter, *, token: str | None = None, limit: int = 25
) -> Page[JobRow]:
    """One page of jobs, newest first; the page's ``total`` is how many match ``filters`` in all.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        filters: what to match (:class:`JobFilter`).
        token: page token from an earlier page of this list (None or unusable → the first page).
        limit: rows per page, clamped to 1..200.

    Returns:
        A :class:`~lashme.app.paging.Page` of :class:`JobRow`.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.jobs.bad_filter`` for an invalid filter.
    """
    require_admin(session, actor_id, action="jobs.search")
    filters = _check_filter(filters)
    conds = _conditions(filters)
    page = paginate(
        session,
        select(Job, User.email).outerjoin(User, User.id == Job.user_id).where(*conds),
        order=(Job.created_at.desc(), Job.id.desc()),
        token=token,
        limit=limit,
        scope="admin.jobs",
        count=True,
    )
    return page.map(
        lambda row: JobRow(
            id=row[0].id,
            created_at=row[0].created_at,
            owner=row[1] or "visitor",
            is_visitor=row[1] is None,
            status=str(row[0].status),
            provider=row[0].provider,
            latency_s=_latency(row[0]),
            cost_usd=row[0].provider_cost_usd,
            error_key=row[0].error_key,
        )
    )


def _job(session: Session, job_id: object, *, lock: bool = False) -> Job:
    """The job ``job_id`` (optionally locked ``FOR UPDATE``).

    Raises:
        NotFound: ``admin.jobs.not_found`` for a malformed or unknown id.
    """
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise NotFound("admin.jobs.not_found")
    stmt = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    job = session.execute(stmt).scalar_one_or_none()
    if job is None:
        raise NotFound("admin.jobs.not_found")
    return job


def _charges(session: Session, job: Job) -> tuple[list[LedgerEntry], int, int]:
    """The owner's charge entries for ``job``, credits charged in all, and credits refunded so far."""
    if job.user_id is None:
        return [], 0, 0
    rows = list(
        session.execute(
            select(LedgerEntry)
            .where(
                LedgerEntry.job_id == job.id,
                LedgerEntry.user_id == job.user_id,
                LedgerEntry.kind.in_((*CHARGE_KINDS, LedgerKind.JOB_REFUND)),
            )
            .order_by(LedgerEntry.id)
        ).scalars()
    )
    charges = [e for e in rows if e.kind != LedgerKind.JOB_REFUND and e.delta < 0]
    charged = -sum(e.delta for e in charges)
    refunded = sum(e.delta for e in rows if e.kind == LedgerKind.JOB_REFUND)
    return charges, charged, refunded


def job_detail(session: Session, actor_id: int | None, job_id: str) -> JobDetail:
    """One job's full record: owner, presets and versions, events, provider requests, money.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        job_id: the job's id (32 hex).

    Returns:
        The :class:`JobDetail`.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.jobs.not_found``.
    """
    require_admin(session, actor_id, action="jobs.detail")
    job = _job(session, job_id)
    owner = session.get(User, job.user_id) if job.user_id is not None else None
    pinned: list[PresetUsed] = []
    if job.preset_version_ids:
        ids = [i for i in job.preset_version_ids if isinstance(i, int)]
        found = {
            v.id: v for v in session.execute(select(PresetVersion).where(PresetVersion.id.in_(ids))).scalars()
        }
        pinned = [
            PresetUsed(
                id=v.id,
                provider=v.provider,
                name=v.name,
                version=v.version,
                strength=v.strength,
                active=v.active,
            )
            for v in (found.get(i) for i in ids)
            if v is not None
        ]
    requests = [
        RequestRow(
            index=r.index,
            request_id=r.request_id,
            model=r.model,
            status=r.status,
            preset_version_id=r.preset_version_id,
            submitted_at=r.submitted_at,
            completed_at=r.completed_at,
        )
        for r in session.execute(
            select(ProviderRequest).where(ProviderRequest.job_id == job.id).order_by(ProviderRequest.index)
        ).scalars()
    ]
    entries = [
        LedgerRow.of(e)
        for e in session.execute(
            select(LedgerEntry).where(LedgerEntry.job_id == job.id).order_by(LedgerEntry.id)
        ).scalars()
    ]
    _, charged, refunded = _charges(session, job)
    n_variants = session.execute(
        select(func.count()).select_from(Variant).where(Variant.job_id == job.id)
    ).scalar_one()
    return JobDetail(
        id=job.id,
        owner=owner.email if owner is not None else "visitor",
        owner_id=job.user_id,
        status=str(job.status),
        provider=job.provider,
        model=job.provider_model or ("studio" if job.provider == "studio" else None),
        presets=list(job.presets or []),
        preset_versions=pinned,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        latency_s=_latency(job),
        cost_usd=job.provider_cost_usd,
        image_count=job.provider_image_count,
        error_key=job.error_key,
        error_detail=job.error_detail,
        reserved_credits=job.reserved_credits,
        variants=n_variants,
        events=[
            EventRow(
                at=e.created_at,
                kind=e.kind,
                from_status=e.from_status,
                to_status=e.to_status,
                message=e.message,
            )
            for e in jobs.events_of(session, job.id)
        ],
        requests=requests,
        ledger=entries,
        refundable=max(0, charged - refunded),
        can_retry=job.status == JobStatus.FAILED,
        variant_scores=[
            VariantScore(
                index=v.index,
                preset=v.preset,
                filtered=v.filtered,
                fidelity_score=v.fidelity_score,
                altered=bool(v.altered),
            )
            for v in jobs.variants_of(session, job.id)
        ],
    )


def preset_names() -> tuple[str, ...]:
    """Preset names the jobs filter offers."""
    return presets.PRESET_ORDER
