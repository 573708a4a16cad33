"""Cancel a job on the user's request: CANCELED in the database, then cancel its provider requests.

The status change comes first (a compare-and-set transition), so a worker
polling the job sees it and stops; the provider's cancel endpoint (fal's
``PUT cancel_url``) is then called for every request not yet completed,
best effort: a failure is logged as a job event, the job stays CANCELED.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from lashme.errors import DomainError
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import Job, JobStatus, ProviderRequest
from lashme.ops.db import session_scope
from lashme.providers.registry import get_provider

log = logging.getLogger(__name__)


def cancel_job(
    job_id: str, *, user_id: int | None, anon_token: str | None, engine: Engine | None = None
) -> Job:
    """Cancel the caller's PENDING or PROCESSING job.

    Args:
        job_id: the job (32 hex).
        user_id: signed-in user id, or None for a visitor.
        anon_token: the visitor's anonymous browser token (owner of anonymous jobs).
        engine: database engine (default: the app's).

    Returns:
        The job, now CANCELED.

    Raises:
        NotFound: ``job.not_found`` (missing or not the caller's).
        DomainError: ``job.not_cancelable`` when it already finished.
    """
    with session_scope(engine) as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=anon_token)
        try:
            job = jobs.transition(
                s,
                job.id,
                JobStatus.CANCELED,
                expected=[JobStatus.PENDING, JobStatus.PROCESSING],
                message="canceled by user",
            )
        except InvalidTransition:
            raise DomainError("job.not_cancelable") from None
        open_requests = _open_requests(s, job.id)
    queue.notify(job.id, JobStatus.CANCELED)
    if open_requests:
        _cancel_at_provider(job.id, job.provider, open_requests, engine)
    return job


def cancel_open_requests(job_id: str, *, engine: Engine | None = None) -> None:
    """Best effort: cancel at the provider every request of the job that has not completed.

    For jobs that ended (FAILED, CANCELED) while requests may still run and
    cost money; the outcome of each cancel is a job event.  Never raises:
    errors are logged.
    """
    try:
        with session_scope(engine) as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            provider_name, open_requests = job.provider, _open_requests(s, job_id)
        if open_requests:
            _cancel_at_provider(job_id, provider_name, open_requests, engine)
    except Exception:  # noqa: BLE001 - the job's outcome is settled; a cancel is only a saving
        log.warning("job %s: could not cancel its provider requests", job_id, exc_info=True)


def _open_requests(s, job_id: str) -> list:
    """``(model, request_id)`` of the job's requests neither completed nor canceled."""
    return list(
        s.execute(
            select(ProviderRequest.model, ProviderRequest.request_id).where(
                ProviderRequest.job_id == job_id, ProviderRequest.status.not_in(["COMPLETED", "CANCELED"])
            )
        ).all()
    )


def _cancel_at_provider(job_id: str, provider_name: str, requests: list, engine: Engine | None) -> None:
    """Call the provider's cancel for each open request; record the outcome as job events."""
    try:
        provider = get_provider(provider_name)
    except ValueError:
        log.warning("job %s: provider %s unavailable, cannot cancel its requests", job_id, provider_name)
        return
    cancel = getattr(provider, "cancel_request", None)
    if cancel is None:
        return
    for model, request_id in requests:
        try:
            cancel(model, request_id)
            outcome = "provider_canceled"
        except Exception as exc:  # noqa: BLE001 - the job is canceled either way
            log.warning("job %s: cancel of %s failed: %s", job_id, request_id, exc)
            outcome = "provider_cancel_failed"
        with session_scope(engine) as s:
            if outcome == "provider_canceled":
                s.execute(
                    update(ProviderRequest)
                    .where(ProviderRequest.request_id == request_id)
                    .values(status="CANCELED")
                )
            jobs.add_event(s, job_id, kind=outcome, message=request_id, data={"request_id": request_id})
