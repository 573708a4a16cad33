"""The worker's job: original → provider → stored variant files → DONE.

``run(job_id)`` is safe to call any number of times (at-least-once
delivery): a finished job is left alone, variant rows are upserted by
``(job_id, index)`` and files are written at deterministic keys, so a
retried job never duplicates variants.  Transient provider errors are
re-raised for RQ to retry while attempts remain; everything else ends the
job FAILED with a message key the user can read.
"""

from __future__ import annotations

import logging
import time

from rq.timeouts import JobTimeoutException
from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.files.storage import Storage, StorageError, get_storage
from lashme.files.storage.base import variant_key
from lashme.images import imaging
from lashme.jobs import cancel, queue
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition
from lashme.jobs.provider_runs import DbJobContext, record_cost_of_completed
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.providers.base import GeneratedVariant, JobAwareProvider, Provider, ProviderError
from lashme.providers.registry import get_provider

log = logging.getLogger(__name__)


class RetryableJobError(Exception):
    """Raised to RQ so it retries the job (the job is back to PENDING)."""


def _claim(job_id: str, engine: Engine | None) -> Job | None:
    """PENDING → PROCESSING, or resume a PROCESSING job whose worker died. None = nothing to do."""
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in jobs.FINAL:
            return None
        try:
            if job.status == JobStatus.PROCESSING:
                # a previous attempt died mid-job: take it over (requeue then claim)
                jobs.transition(
                    s,
                    job_id,
                    JobStatus.PENDING,
                    expected=[JobStatus.PROCESSING],
                    message="resumed after worker loss",
                )
            return jobs.transition(s, job_id, JobStatus.PROCESSING, expected=[JobStatus.PENDING])
        except InvalidTransition:
            return None  # another worker, a cancel or a failure got there first


def fail(job_id: str, *, error_key: str, detail: str | None = None, engine: Engine | None = None) -> bool:
    """Mark an unfinished job FAILED (idempotent). Returns True if this call failed it.

    Once the FAILED status is committed, the job's provider requests that are
    still open (fal) are canceled, best effort (:func:`lashme.jobs.cancel.cancel_open_requests`),
    so they stop running and costing, and the requests that did complete
    (and were billed) get a cost record (:func:`lashme.jobs.provider_runs.record_cost_of_completed`).
    """
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in jobs.FINAL:
            return False
        try:
            jobs.transition(s, job_id, JobStatus.FAILED, error_key=error_key, error_detail=detail)
        except InvalidTransition:
            return False
    queue.notify(job_id, JobStatus.FAILED)
    cancel.cancel_open_requests(job_id, engine=engine)
    try:
        record_cost_of_completed(job_id, engine=engine)
    except Exception:  # noqa: BLE001 - a cost figure never changes the job's outcome
        log.warning("job %s: could not record the cost of its completed requests", job_id, exc_info=True)
    return True


def _store_variant(storage: Storage, prefix: str, gv: GeneratedVariant) -> dict:
    """Render and store one variant's files; returns the Variant column values."""
    if gv.image is None:
        return {"preset": gv.preset, "filtered": True}
    files = imaging.render_variant_files(gv.image)
    keys = {}
    for kind, data in files.items():
        key = variant_key(prefix, gv.index, kind)
        storage.put(key, data, content_type="image/jpeg")
        keys[f"{kind}_key"] = key
    return {
        "preset": gv.preset,
        "filtered": False,
        "width": gv.image.width,
        "height": gv.image.height,
        **keys,
    }


def _upsert_variants(s, job_id: str, rows: dict[int, dict]) -> None:
    existing = {v.index: v for v in s.execute(select(Variant).where(Variant.job_id == job_id)).scalars()}
    for index, values in rows.items():
        v = existing.get(index) or Variant(job_id=job_id, index=index, preset=values["preset"])
        for k, val in values.items():
            setattr(v, k, val)
        s.add(v)


def run(
    job_id: str,
    *,
    engine: Engine | None = None,
    storage: Storage | None = None,
    provider: Provider | None = None,
) -> str:
    """Process one job end to end; returns the job's final (or current) status.

    Raises:
        RetryableJobError: a transient failure with attempts left; the job is
            PENDING again and RQ's ``Retry`` runs it later.
    """
    job = _claim(job_id, engine)
    if job is None:
        return "skipped"
    queue.notify(job_id, JobStatus.PROCESSING)
    settings = get_settings()
    if job.attempts > settings.job_max_attempts:
        # a sweeper re-enqueue starts RQ's retry count afresh; the job's own count is the limit
        fail(
            job_id,
            error_key="generation.interrupted",
            detail=f"gave up after {job.attempts - 1} attempts",
            engine=engine,
        )
        return JobStatus.FAILED
    storage = storage or get_storage()
    started = time.monotonic()
    try:
        provider = provider or get_provider(job.provider)
        try:
            original = storage.get(job.original_key)
        except StorageError as exc:
            fail(job_id, error_key="generation.original_missing", detail=str(exc), engine=engine)
            return JobStatus.FAILED
        if isinstance(provider, JobAwareProvider):
            ctx = DbJobContext(job, engine=engine, storage=storage)
            generated = provider.generate_for_job(original, job.presets, ctx)
        else:
            generated = provider.generate(original, job.presets)
        prefix = job.original_key.rsplit("/", 1)[0] + "/"
        rows = {gv.index: _store_variant(storage, prefix, gv) for gv in generated}
    except ProviderError as exc:
        if exc.transient and job.attempts < settings.job_max_attempts:
            try:
                with session_scope(engine) as s:
                    jobs.transition(
                        s,
                        job_id,
                        JobStatus.PENDING,
                        expected=[JobStatus.PROCESSING],
                        message=f"retrying: {exc}",
                    )
            except InvalidTransition:  # failed or canceled meanwhile: never bring a final job back
                with session_scope(engine) as s:
                    return s.get(Job, job_id).status
            queue.notify(job_id, JobStatus.PENDING)
            raise RetryableJobError(str(exc)) from exc
        fail(job_id, error_key=exc.reason_key, detail=str(exc), engine=engine)
        return JobStatus.FAILED
    except StorageError as exc:
        fail(job_id, error_key="generation.storage_failed", detail=str(exc), engine=engine)
        return JobStatus.FAILED
    except JobTimeoutException as exc:  # RQ's job_timeout: a provider (or anything) hung
        fail(job_id, error_key="generation.timeout", detail=f"{type(exc).__name__}: {exc}", engine=engine)
        return JobStatus.FAILED
    except Exception as exc:  # noqa: BLE001 - any other bug ends the job, never leaves it hanging
        log.exception("job %s failed", job_id)
        fail(job_id, error_key="generation.failed", detail=f"{type(exc).__name__}: {exc}", engine=engine)
        return JobStatus.FAILED

    if all(r.get("filtered") for r in rows.values()):
        fail(job_id, error_key="generation.all_filtered", detail="all variants filtered", engine=engine)
        return JobStatus.FAILED
    with session_scope(engine) as s:
        _upsert_variants(s, job_id, rows)
        s.flush()
        try:
            jobs.transition(
                s,
                job_id,
                JobStatus.DONE,
                expected=[JobStatus.PROCESSING],
                data={"seconds": round(time.monotonic() - started, 3), "variants": len(rows)},
            )
        except InvalidTransition:
            # canceled or failed meanwhile; variants stay attached but the job is final
            return s.get(Job, job_id).status
    queue.notify(job_id, JobStatus.DONE)
    return JobStatus.DONE
