"""RQ entry points.  They take ids only and call the core (``lashme.generation``)."""

from __future__ import annotations

from lashme import generation


def generate(job_id: str) -> str:
    """RQ task: run generation for ``job_id`` (idempotent). Returns the final status."""
    return generation.run(job_id)


def on_generate_failure(job, connection, exc_type, exc_value, tb) -> None:  # noqa: ANN001 - RQ signature
    """RQ failure callback: once no retry is left, the job ends FAILED.

    Called by RQ for exceptions and for abandoned jobs (worker killed:
    ``AbandonedJobError`` from ``StartedJobRegistry.cleanup``).  While
    ``retries_left`` > 0, RQ requeues and the next run resumes the job.
    """
    if job.retries_left:
        return
    job_id = job.args[0]
    key = "generation.failed"
    generation.fail(job_id, error_key=key, detail=f"{exc_type.__name__}: {exc_value}"[:500])
