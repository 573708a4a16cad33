"""Admin job actions: retry a failed job, refund a job's charges.

Every public function takes ``(session, actor_id, ...)``, starts with
:func:`lashme.app.admin.guard.require_admin` and audits the change in the
caller's transaction.

Refunds give back what the job's owner was charged for the job: the
captured generation credits (``capture`` entries) and the unlocks of its
variants (``unlock`` entries carry ``job_id``).  The job row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock is already
held), the amount due is *charged − already refunded*, and the ledger entry's
idempotency key ``job_refund:{job_id}:{last charge entry id}`` is unique per
state of the job's charges: two racing refunds pay once, and a later refund
pays only for charges made after the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from lashme.app.admin import audit
from lashme.app.admin.guard import require_admin
from lashme.app.admin.jobs import _charges, _job
from lashme.credits import ledger
from lashme.errors import DomainError
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import JobStatus, LedgerKind

RETRY_MESSAGE = "retried by admin"
MAX_REASON = 255


@dataclass(frozen=True)
class RefundResult:
    """What :func:`refund_job` gave back."""

    job_id: str
    user_id: int
    amount: int
    entry_id: int
    balance_before: int
    balance_after: int


def retry_job(session: Session, actor_id: int | None, job_id: str) -> str:
    """Send a FAILED job back to PENDING (the caller commits, then calls :func:`enqueue_retry`).

    The owner's credits are reserved again (as for the owner's own retry);
    an admin retry ignores the daily limit and the owner's retry cap, and
    starts the job's attempt count afresh so the worker gives it its full
    number of runs.  The job keeps its pinned preset versions.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        job_id: the job to retry.

    Returns:
        The job id (to enqueue after the commit).

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.jobs.not_found``.
        DomainError: ``job.not_retryable`` unless the job is FAILED.
        InsufficientCredits: the owner's available credits do not cover the
            reservation; the caller must roll back (``session_scope`` does).
    """
    admin = require_admin(session, actor_id, action="retry_job")
    job = _job(session, job_id, lock=True)
    if job.status != JobStatus.FAILED:
        raise DomainError("job.not_retryable")
    before = {
        "status": str(job.status),
        "attempts": job.attempts,
        "error_key": job.error_key,
        "held": ledger.get_balance(session, job.user_id).held if job.user_id is not None else None,
    }
    try:
        jobs.transition(
            session, job.id, JobStatus.PENDING, expected=[JobStatus.FAILED], message=RETRY_MESSAGE
        )
    except InvalidTransition:
        raise DomainError("job.not_retryable") from None
    session.refresh(job)
    after = {
        "status": str(job.status),
        "attempts": job.attempts,
        "error_key": None,
        "held": ledger.get_balance(session, job.user_id).held if job.user_id is not None else None,
    }
    audit.record(
        session, admin, action="retry_job", target_type="job", target_id=job.id, before=before, after=after
    )
    return job.id


def enqueue_retry(job_id: str) -> None:
    """Queue a job :func:`retry_job` moved to PENDING (call after the commit) and tell watchers.

    Raises:
        redis.exceptions.RedisError: the queue is unreachable; the job stays PENDING and
            the sweeper queues it again.
    """
    queue.enqueue_generation(job_id)
    queue.notify(job_id, JobStatus.PENDING)


def _reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DomainError("admin.reason_required")
    text = " ".join(value.split())
    if len(text) > MAX_REASON:
        raise DomainError("admin.jobs.reason_too_long", max=MAX_REASON)
    return text


def refund_job(session: Session, actor_id: int | None, job_id: str, reason: str) -> RefundResult:
    """Give the job's owner back every credit charged for the job and not refunded yet.

    Charges are the captured generation credits and the unlocks of the
    job's variants.  Idempotent: a second call refunds only what was charged
    after the first (nothing → ``admin.jobs.nothing_to_refund``); racing calls
    serialize on the job row lock and on the ledger idempotency key.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        job_id: the job.
        reason: why (required, at most 255 characters); stored on the ledger entry and the audit row.

    Returns:
        The :class:`RefundResult`.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.jobs.not_found``.
        DomainError: ``admin.reason_required`` / ``admin.jobs.reason_too_long``;
            ``admin.jobs.nothing_to_refund`` when nothing is left to refund;
            ``admin.self_action`` for the admin's own job.
    """
    admin = require_admin(session, actor_id, action="refund_job")
    reason = _reason(reason)
    job = _job(session, job_id, lock=True)
    charges, charged, refunded = _charges(session, job)
    due = charged - refunded
    if job.user_id is not None and job.user_id == admin.id:  # nobody refunds themselves
        raise DomainError("admin.self_action")
    if job.user_id is None or due <= 0:
        raise DomainError("admin.jobs.nothing_to_refund")
    before = ledger.get_balance(session, job.user_id)
    entry, created = ledger.post(
        session,
        user_id=job.user_id,
        delta=due,
        kind=LedgerKind.JOB_REFUND,
        reason=reason,
        idempotency_key=f"job_refund:{job.id}:{charges[-1].id}",
        actor=admin.actor,
        job_id=job.id,
    )
    if not created:  # a twin refund of the same charges committed first
        raise DomainError("admin.jobs.nothing_to_refund")
    after = ledger.get_balance(session, job.user_id)
    audit.record(
        session,
        admin,
        action="refund_job",
        target_type="job",
        target_id=job.id,
        before={"balance": before.total, "held": before.held, "charged": charged, "refunded": refunded},
        after={
            "balance": after.total,
            "held": after.held,
            "amount": due,
            "refunded": refunded + due,
            "ledger_entry_id": entry.id,
        },
        reason=reason,
    )
    return RefundResult(
        job_id=job.id,
        user_id=job.user_id,
        amount=due,
        entry_id=entry.id,
        balance_before=before.total,
        balance_after=after.total,
    )
