"""The dashboard: the caller's recent jobs in plain language and one page of their credit ledger.

Cancel and retry are the job page's use-cases (:func:`lashme.app.job.cancel`,
:func:`lashme.app.job.retry`); the dashboard offers them on its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from lashme import i18n
from lashme.app.caller import Caller
from lashme.app.credits import LedgerPage, read_ledger_page
from lashme.jobs import queue
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope


@dataclass(frozen=True)
class JobSummary:
    """One row of "recent jobs".

    Attributes:
        id: job id.
        status: job status.
        created_at: when it was uploaded (aware UTC).
        stage_key: catalog key saying what is happening (``dash.stage_*`` or the job's error key).
        stage_n: the key's ``{n}`` (queue position or variant count).
        can_cancel: it is waiting in the queue.
        can_retry: it failed (the owner may send it back).
    """

    id: str
    status: str
    created_at: datetime
    stage_key: str
    stage_n: int
    can_cancel: bool
    can_retry: bool


@dataclass(frozen=True)
class Dashboard:
    """What ``/dashboard`` shows besides the header."""

    recent: tuple[JobSummary, ...]
    ledger: LedgerPage


def _recent(session: Session, user_id: int, limit: int, positions: bool) -> tuple[JobSummary, ...]:
    limit = min(max(1, limit), 50)
    rows = session.execute(
        select(Job, func.count(Variant.id))
        .outerjoin(Variant, Variant.job_id == Job.id)
        .where(Job.user_id == user_id)
        .group_by(Job.id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    ).all()
    out = []
    for job, n_variants in rows:
        status = JobStatus(job.status)
        n = 0
        if status == JobStatus.PENDING:
            n = (queue.queue_position(job.id) or 0) if positions else 0
            key = "dash.stage_queue_n" if n else "dash.stage_queue"
        elif status == JobStatus.PROCESSING:
            key = "dash.stage_processing"
        elif status == JobStatus.DONE:
            key, n = "dash.stage_done", n_variants
        elif status == JobStatus.FAILED:
            key = i18n.error_key(job.error_key)
        else:
            key = "dash.stage_canceled"
        out.append(
            JobSummary(
                id=job.id,
                status=str(status),
                created_at=job.created_at,
                stage_key=key,
                stage_n=n,
                can_cancel=status == JobStatus.PENDING,
                can_retry=status == JobStatus.FAILED,
            )
        )
    return tuple(out)


def recent_jobs(caller: Caller, *, limit: int = 10, positions: bool = True) -> tuple[JobSummary, ...]:
    """The caller's newest jobs (at most ``limit``, 1..50) with what is happening to each.

    Args:
        caller: a signed-in user.
        limit: rows wanted.
        positions: look up the queue position of waiting jobs in Redis.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return _recent(s, user_id, limit, positions)


def load(caller: Caller, *, ledger_page: object = 1, page_size: int = 10) -> Dashboard:
    """The dashboard: the 10 newest jobs and ledger page ``ledger_page`` (clamped), in one transaction.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return Dashboard(
            recent=_recent(s, user_id, 10, True), ledger=read_ledger_page(s, user_id, ledger_page, page_size)
        )
