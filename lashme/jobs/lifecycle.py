"""Job lifecycle: creation, allowed status transitions, the event trail, ownership.

Transitions (anything else raises ``InvalidTransition``)::

    PENDING    -> PROCESSING | FAILED | CANCELED
    PROCESSING -> DONE | FAILED | PENDING (requeued after a worker died) | CANCELED
    FAILED     -> PENDING (retry)

Every transition writes a ``JobEvent`` in the same transaction, and is an
atomic conditional UPDATE on the current status, so two workers cannot
both claim one job.

Per-run lease (fencing token, as in Kleppmann, "How to do distributed
locking", 2016): each claim (PENDING -> PROCESSING) increments
``Job.run_token`` and the run keeps the new value.  A run passes it as
``run_token`` to every later transition of its job; the conditional UPDATE
then also requires the token unchanged, so a worker that was declared dead
while its job was handed to another run (a newer token) can neither finish,
fail nor requeue the job, nor settle its credits (:class:`StaleRun`).

Credits follow the status in the same transaction: a job that reserved
credits at submission has them captured when it becomes DONE and released
when it becomes FAILED or CANCELED (whoever makes the transition: worker,
sweeper, cancel, admin); retrying a FAILED job reserves again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.accounts import auth
from lashme.credits import ledger
from lashme.errors import NotFound
from lashme.models import (
    FINAL_JOB_STATUSES,
    Job,
    JobEvent,
    JobStatus,
    Variant,
    utcnow,
)

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.DONE, JobStatus.FAILED, JobStatus.PENDING, JobStatus.CANCELED}
    ),
    JobStatus.FAILED: frozenset({JobStatus.PENDING}),
    JobStatus.DONE: frozenset(),
    JobStatus.CANCELED: frozenset(),
}
FINAL = FINAL_JOB_STATUSES


class InvalidTransition(Exception):
    """The job is not in a status the requested transition starts from."""


class StaleRun(InvalidTransition):
    """The caller's run lost its lease: the job was claimed again by a newer run (higher token)."""


def add_event(
    session: Session,
    job_id: str,
    *,
    kind: str,
    message: str | None = None,
    data: dict | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
) -> JobEvent:
    """Append an event to a job's trail (no status change by itself)."""
    ev = JobEvent(
        job_id=job_id, kind=kind, message=message, data=data, from_status=from_status, to_status=to_status
    )
    session.add(ev)
    session.flush()
    return ev


def create_job(
    session: Session,
    *,
    job_id: str,
    user_id: int | None,
    anon_token: str | None,
    provider: str,
    presets: Sequence[str],
    original_key: str,
    width: int,
    height: int,
    reserve_credits: int = 0,
) -> Job:
    """Insert a PENDING job (the original is already stored at ``original_key``).

    Exactly one of ``user_id`` / ``anon_token`` identifies the owner.  With
    ``reserve_credits`` > 0 (a signed-in user and a generation price) the
    credits are reserved in the same transaction.

    Raises:
        ValueError: neither owner given, or a reservation without a user.
        InsufficientCredits: the user's available credits are short; the caller
            must roll back (``session_scope`` does) so no job is left.
    """
    if user_id is None and not anon_token:
        raise ValueError("a job needs an owner")
    job = Job(
        id=job_id,
        user_id=user_id,
        anon_token_hash=None if user_id is not None else auth.token_hash(anon_token),
        provider=provider,
        presets=list(presets),
        original_key=original_key,
        original_width=width,
        original_height=height,
        reserved_credits=max(0, reserve_credits),
    )
    if reserve_credits > 0 and user_id is None:
        raise ValueError("only a signed-in user's job can reserve credits")
    session.add(job)
    session.flush()
    add_event(session, job.id, kind="status", to_status=JobStatus.PENDING, message="created")
    if reserve_credits > 0:
        ledger.reserve(
            session, user_id=user_id, job_id=job.id, amount=reserve_credits, reason="Reserved for a new photo"
        )
    return job


def transition(
    session: Session,
    job_id: str,
    to: JobStatus,
    *,
    expected: Sequence[JobStatus] | None = None,
    message: str | None = None,
    error_key: str | None = None,
    error_detail: str | None = None,
    data: dict | None = None,
    run_token: int | None = None,
) -> Job:
    """Move ``job_id`` to ``to`` if its status is one of ``expected`` (default: any allowed source).

    A move to PROCESSING (a claim) increments ``Job.run_token``; read it from
    the returned job.

    Args:
        session: open session; the caller owns the transaction.
        job_id: the job.
        to: target status.
        expected: allowed source statuses (narrows :data:`TRANSITIONS`).
        message: event message.
        error_key: reason key for FAILED.
        error_detail: technical detail for FAILED (cut to 500 characters).
        data: event data.
        run_token: the caller's lease: the transition happens only while the job's
            ``run_token`` still equals it (None = an authority that is not a run:
            sweeper, cancel, admin, RQ's abandoned-job callback).

    Returns:
        The updated job.

    Raises:
        NotFound: no such job.
        StaleRun: ``run_token`` is no longer the job's (a newer run claimed it).
        InvalidTransition: the current status does not allow it (another
            worker or a cancel got there first).
    """
    sources = [s for s, targets in TRANSITIONS.items() if to in targets]
    if expected is not None:
        sources = [s for s in sources if s in expected]
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("job.not_found")
    session.refresh(job)
    current = JobStatus(job.status)
    if run_token is not None and job.run_token != run_token:
        raise StaleRun(f"job {job_id} run {run_token} lost its lease to run {job.run_token}")
    if current not in sources:
        raise InvalidTransition(f"job {job_id} is {current}, cannot go to {to}")
    now = utcnow()
    values: dict = {"status": to, "updated_at": now}
    if to == JobStatus.PROCESSING:
        values["attempts"] = Job.attempts + 1
        values["started_at"] = now
        values["run_token"] = Job.run_token + 1
    if to in FINAL:
        values["finished_at"] = now
    if to == JobStatus.FAILED:
        values["error_key"] = error_key or "generation.failed"
        values["error_detail"] = (error_detail or "")[:500] or None
    if to == JobStatus.PENDING:
        values["error_key"] = None
        values["error_detail"] = None
        values["finished_at"] = None
        if current == JobStatus.FAILED:  # a retry gets a fresh set of runs (generation.run caps attempts)
            values["attempts"] = 0
    fence = [Job.run_token == run_token] if run_token is not None else []
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == current, *fence)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(job)
    if result.rowcount != 1:
        if run_token is not None and job.run_token != run_token:
            raise StaleRun(f"job {job_id} run {run_token} lost its lease to run {job.run_token}")
        raise InvalidTransition(f"job {job_id} changed to {job.status} concurrently")
    if to == JobStatus.PROCESSING:
        data = {**(data or {}), "run": job.run_token}
    add_event(
        session,
        job_id,
        kind="status",
        from_status=current,
        to_status=to,
        message=message or error_key,
        data=data,
    )
    if job.reserved_credits and job.user_id is not None:
        if to in FINAL:
            ledger.settle(
                session,
                job_id=job_id,
                capture=to == JobStatus.DONE,
                reason="Photo enhanced" if to == JobStatus.DONE else f"Released: job {to.lower()}",
            )
        elif current == JobStatus.FAILED and to == JobStatus.PENDING:
            ledger.reserve(
                session,
                user_id=job.user_id,
                job_id=job_id,
                amount=job.reserved_credits,
                reason="Reserved for a retry",
            )
    return job


def get_owned_job(session: Session, job_id: str, *, user_id: int | None, anon_token: str | None) -> Job:
    """The job if the caller owns it (by user id, or by this browser's anonymous token).

    Raises:
        NotFound: ``job.not_found`` for missing ids and for other people's jobs alike.
    """
    job = session.get(Job, job_id) if job_id and len(job_id) <= 32 else None
    if job is None:
        raise NotFound("job.not_found")
    if user_id is not None and job.user_id == user_id:
        return job
    if job.user_id is None and anon_token and job.anon_token_hash == auth.token_hash(anon_token):
        return job
    raise NotFound("job.not_found")


def get_owned_variant(session: Session, variant_id: str, *, user_id: int | None) -> tuple[Variant, Job]:
    """A variant of a job owned by the signed-in ``user_id``.

    Raises:
        NotFound: ``variant.not_found`` for missing ids and other people's variants.
    """
    if user_id is None or not variant_id or len(variant_id) > 32:
        raise NotFound("variant.not_found")
    row = session.execute(
        select(Variant, Job).join(Job, Job.id == Variant.job_id).where(Variant.id == variant_id)
    ).first()
    if row is None or row[1].user_id != user_id:
        raise NotFound("variant.not_found")
    return row[0], row[1]


def variants_of(session: Session, job_id: str) -> list[Variant]:
    """The job's variants ordered by index."""
    return list(
        session.execute(select(Variant).where(Variant.job_id == job_id).order_by(Variant.index)).scalars()
    )


def events_of(session: Session, job_id: str) -> list[JobEvent]:
    """The job's event trail, oldest first."""
    return list(
        session.execute(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)).scalars()
    )
