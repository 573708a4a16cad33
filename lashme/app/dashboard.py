"""The dashboard's core: a user's recent jobs in plain language, cancel a queued job, retry a failed one.

Plain Python (no Reflex import).  Cancel and retry go through
:func:`lashme.jobs.lifecycle.transition`, which settles or re-reserves the job's
credits in the same transaction; retry queues the job after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lashme.accounts import daily_limits
from lashme.credits import pricing
from lashme.errors import MESSAGES, DomainError
from lashme.jobs import cancel, queue
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope


@dataclass
class JobSummary:
    """One row of "recent jobs".

    ``stage_key`` is an i18n key (``dash.stage_*`` or the job's error key)
    and ``stage_n`` its ``{n}`` parameter (queue position or variant count).
    """

    id: str
    status: str
    created_at: datetime
    stage_key: str
    stage_n: int
    can_cancel: bool
    can_retry: bool


def recent_jobs(
    session: Session, *, user_id: int, limit: int = 10, positions: bool = True
) -> list[JobSummary]:
    """The user's newest jobs (at most ``limit``, 1..50) with what is happening to each.

    Args:
        session: open database session.
        user_id: the caller.
        limit: rows wanted.
        positions: look up the queue position of waiting jobs in Redis (off in tests without Redis).
    """
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
            key = job.error_key if job.error_key in MESSAGES else "generation.failed"
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
    return out


#: how many times the owner may send one failed job back to the queue
MAX_USER_RETRIES = 3
RETRY_MESSAGE = "retried by owner"


def cancel_job(job_id: str, *, user_id: int, engine: Engine | None = None) -> None:
    """Cancel the user's queued or running job; its reserved credits are released.

    Delegates to :func:`lashme.jobs.cancel.cancel_job` (which also cancels open
    provider requests); a worker that picks the RQ job up later does nothing.

    Raises:
        NotFound: ``job.not_found``.
        DomainError: ``job.not_cancelable`` when it has already finished.
    """
    cancel.cancel_job(job_id, user_id=user_id, anon_token=None, engine=engine)


def retry_job(job_id: str, *, user_id: int, engine: Engine | None = None, enqueue: bool = True) -> None:
    """Send the user's failed job back to the queue (credits are reserved again).

    A retry is a new generation: it counts against the user's daily limit, and
    one job can be retried at most :data:`MAX_USER_RETRIES` times.

    Raises:
        NotFound: ``job.not_found``.
        DomainError: ``job.not_retryable`` unless it is FAILED; ``job.retry_limit``
            after :data:`MAX_USER_RETRIES` retries.
        DailyLimitReached: today's jobs are used up.
        InsufficientCredits: the retry's reservation does not fit the balance; nothing changes.
        redis.exceptions.RedisError: the queue is unreachable (the job stays PENDING;
            the sweeper or a later retry re-queues it).
    """
    with session_scope(engine) as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=None)
        if job.status != JobStatus.FAILED:
            raise DomainError("job.not_retryable")
        retried = sum(1 for e in jobs.events_of(s, job_id) if e.message == RETRY_MESSAGE)
        if retried >= MAX_USER_RETRIES:
            raise DomainError("job.retry_limit")
        limit = pricing.get_prices(s).daily_limit_user
    daily_limits.consume(user_id=user_id, anon_token=None, client_ip=None, limit=limit)
    with session_scope(engine) as s:
        try:
            jobs.transition(
                s, job_id, JobStatus.PENDING, expected=[JobStatus.FAILED], message=RETRY_MESSAGE
            )
        except InvalidTransition:
            raise DomainError("job.not_retryable") from None
    if enqueue:
        queue.enqueue_generation(job_id)
    queue.notify(job_id, JobStatus.PENDING)
