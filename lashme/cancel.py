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

from lashme import jobs, queue
from lashme.db import session_scope
from lashme.errors import DomainError
from lashme.jobs import InvalidTransition
from lashme.models import Job, JobStatus, ProviderRequest
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
        open_requests = list(
            s.execute(
                select(ProviderRequest.model, ProviderRequest.request_id).where(
                    ProviderRequest.job_id == job.id, ProviderRequest.status != "COMPLETED"
                )
            ).all()
        )
    queue.notify(job.id, JobStatus.CANCELED)
    if open_requests:
        _cancel_at_provider(job, open_requests, engine)
    return job


def _cancel_at_provider(job: Job, requests: list, engine: Engine | None) -> None:
    """Call the provider's cancel for each open request; record the outcome as job events."""
    try:
        provider = get_provider(job.provider)
    except ValueError:
        log.warning("job %s: provider %s unavailable, cannot cancel its requests", job.id, job.provider)
        return
    cancel = getattr(provider, "cancel_request", None)
    if cancel is None:
        return
    for model, request_id in requests:
        try:
            cancel(model, request_id)
            outcome = "provider_canceled"
        except Exception as exc:  # noqa: BLE001 - the job is canceled either way
            log.warning("job %s: cancel of %s failed: %s", job.id, request_id, exc)
            outcome = "provider_cancel_failed"
        with session_scope(engine) as s:
            if outcome == "provider_canceled":
                s.execute(
                    update(ProviderRequest)
                    .where(ProviderRequest.request_id == request_id)
                    .values(status="CANCELED")
                )
            jobs.add_event(s, job.id, kind=outcome, message=request_id, data={"request_id": request_id})
