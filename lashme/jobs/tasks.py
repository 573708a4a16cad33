"""RQ entry points.  They take ids only and call the core (``lashme.jobs.generation``, ``.fullres``)."""

from __future__ import annotations

import structlog
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException

from lashme.jobs import fullres, generation

# RQ failures that are not ours, by exception type: the reason shown on the failed job
FAILURE_KEYS = {
    JobTimeoutException: "generation.timeout",  # the provider (or anything) ran past job_timeout
    AbandonedJobError: "generation.interrupted",  # the worker died and no retry is left
}


def generate(job_id: str) -> str:
    """RQ task: run generation for ``job_id`` (idempotent). Returns the final status."""
    with structlog.contextvars.bound_contextvars(job_id=job_id):
        return generation.run(job_id)


def on_generate_failure(job, connection, exc_type, exc_value, tb) -> None:  # noqa: ANN001 - RQ signature
    """RQ failure callback: once no retry is left, the job ends FAILED.

    Called by RQ for exceptions, timeouts (``JobTimeoutException``) and
    abandoned jobs (worker killed: ``AbandonedJobError`` from
    ``StartedJobRegistry.cleanup``).  While ``retries_left`` > 0, RQ requeues
    and the next run resumes the job.
    """
    if job.retries_left:
        return
    job_id = job.args[0]
    key = next((k for t, k in FAILURE_KEYS.items() if issubclass(exc_type, t)), "generation.failed")
    # in the work horse after our own run raised: fenced by that run's token (a stale run fails
    # nothing); in the sweeper (abandoned job) there is no run here: the authority fails it
    generation.fail(
        job_id,
        error_key=key,
        detail=f"{exc_type.__name__}: {exc_value}"[:500],
        run_token=generation.current_run_token(job_id),
    )


def render_fullres(variant_id: str) -> str:
    """RQ task: render an unlocked variant's full-resolution files (idempotent, cached)."""
    with structlog.contextvars.bound_contextvars(variant_id=variant_id):
        return fullres.render(variant_id)


def on_fullres_failure(job, connection, exc_type, exc_value, tb) -> None:  # noqa: ANN001 - RQ signature
    """RQ failure callback of :func:`render_fullres`: once no retry is left the render is ``failed``."""
    if job.retries_left:
        return
    fullres.mark_failed(job.args[0], f"{exc_type.__name__}: {exc_value}"[:255])
