"""The database-backed :class:`lashme.providers.base.JobContext` a job-aware provider runs with.

Every ``record_*`` call commits its own short transaction, so what a provider
records (above all a submitted request id) survives the worker being killed a
moment later.  Status changes are written as job events of kind
``provider_status`` (only when the status or queue position changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from lashme.files.storage import LocalStorage, Storage
from lashme.images import presets
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, JobStatus, PresetVersion, ProviderRequest, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings


class DbJobContext:
    """Job context stored in ``jobs`` / ``provider_requests`` / ``job_events``.

    Args:
        job: the claimed job (only ``id``, ``provider`` and ``original_key`` are read).
        engine: database engine (default: the app's).
        storage: where the original lives (for :meth:`original_url`).
    """

    def __init__(self, job: Job, *, engine: Engine | None = None, storage: Storage | None = None) -> None:
        self.job_id = job.id
        self._provider = job.provider
        self._original_key = job.original_key
        self._engine = engine
        self._storage = storage
        self._last_status: dict[int, tuple[str, int | None]] = {}

    def preset_versions(self, provider: str, names: Sequence[str]) -> list[PresetVersion]:
        """The versions pinned on the job, or the active ones (then pinned).

        Raises:
            lashme.images.presets.PresetMissing: no active version / a pinned id is gone.
        """
        with session_scope(self._engine) as s:
            job = s.get(Job, self.job_id)
            if job.preset_version_ids:
                rows = presets.versions_by_id(s, job.preset_version_ids)
            else:
                rows = presets.active_versions(s, provider, names)
                job.preset_version_ids = [r.id for r in rows]
                s.add(job)
            for row in rows:
                s.expunge(row)
            return rows

    def submitted(self) -> dict[int, str]:
        """Request ids already submitted, by variant index."""
        with session_scope(self._engine) as s:
            rows = s.execute(
                select(ProviderRequest.index, ProviderRequest.request_id).where(
                    ProviderRequest.job_id == self.job_id
                )
            ).all()
        return {index: rid for index, rid in rows}

    def first_submitted_at(self) -> datetime | None:
        """``Job.provider_submitted_at`` (aware UTC) or None."""
        with session_scope(self._engine) as s:
            return s.get(Job, self.job_id).provider_submitted_at

    def record_submission(
        self, index: int, *, model: str, request_id: str, preset_version_id: int | None
    ) -> str:
        """Insert the request row and a ``provider_submitted`` event; sets the job's submission time once.

        Returns:
            The request id recorded for ``index``: ``request_id``, or, when another
            attempt of the same job recorded one first (the unique ``(job_id, index)``
            refused the row), that earlier id, which the caller resumes instead.

        Raises:
            sqlalchemy.exc.IntegrityError: the row was refused and no request is
                recorded for ``index`` (``request_id`` itself is already taken).
        """
        now = utcnow()
        try:
            with session_scope(self._engine) as s:
                s.add(
                    ProviderRequest(
                        job_id=self.job_id,
                        index=index,
                        provider=self._provider,
                        model=model,
                        request_id=request_id,
                        preset_version_id=preset_version_id,
                        submitted_at=now,
                    )
                )
                s.flush()
                s.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.provider_submitted_at.is_(None))
                    .values(provider_submitted_at=now, provider_model=model)
                    .execution_options(synchronize_session=False)
                )
                jobs.add_event(
                    s,
                    self.job_id,
                    kind="provider_submitted",
                    message=f"{model} request {request_id}",
                    data={"index": index, "request_id": request_id, "model": model},
                )
        except IntegrityError:
            existing = self.submitted().get(index)
            if existing is None:
                raise
            return existing
        return request_id

    def record_status(self, index: int, status: str, *, queue_position: int | None = None) -> None:
        """Update the request's status/position; a ``provider_status`` event when either changed."""
        if self._last_status.get(index) == (status, queue_position):
            return
        self._last_status[index] = (status, queue_position)
        with session_scope(self._engine) as s:
            row = s.execute(
                select(ProviderRequest).where(
                    ProviderRequest.job_id == self.job_id, ProviderRequest.index == index
                )
            ).scalar_one_or_none()
            if row is None or (row.status, row.queue_position) == (status, queue_position):
                return
            row.status, row.queue_position = status, queue_position
            s.add(row)
            data = {"index": index, "status": status}
            if queue_position is not None:
                data["queue_position"] = queue_position
            jobs.add_event(s, self.job_id, kind="provider_status", message=status, data=data)

    def record_completion(self, index: int, *, image_count: int) -> None:
        """Mark the request COMPLETED with its image count."""
        with session_scope(self._engine) as s:
            s.execute(
                update(ProviderRequest)
                .where(ProviderRequest.job_id == self.job_id, ProviderRequest.index == index)
                .values(
                    status="COMPLETED", queue_position=None, image_count=image_count, completed_at=utcnow()
                )
                .execution_options(synchronize_session=False)
            )
        self._last_status[index] = ("COMPLETED", None)

    def record_cost(self, *, model: str, image_count: int, cost_usd: float) -> None:
        """Store model, completion time, latency (first submission → now, seconds), images and cost."""
        now = utcnow()
        with session_scope(self._engine) as s:
            job = s.get(Job, self.job_id)
            submitted = job.provider_submitted_at or now
            job.provider_model = model
            job.provider_completed_at = now
            job.provider_latency_s = round((now - submitted).total_seconds(), 3)
            job.provider_image_count = image_count
            job.provider_cost_usd = round(cost_usd, 6)
            s.add(job)

    def is_canceled(self) -> bool:
        """True when the job's status is CANCELED."""
        with session_scope(self._engine) as s:
            status = s.execute(select(Job.status).where(Job.id == self.job_id)).scalar()
        return status == JobStatus.CANCELED

    def original_url(self, *, expires_in: int) -> str | None:
        """A presigned GET of the original on S3 storage; None on local storage (send a data URI).

        Local files are never handed out: the app's own address is usually not
        reachable from the provider (a laptop, a private network).
        """
        if isinstance(self._storage, LocalStorage):
            return None
        presign = getattr(self._storage, "presigned_url", None)
        if presign is None:
            return None
        return presign(self._original_key, expires_in=expires_in)


def record_cost_of_completed(job_id: str, *, engine: Engine | None = None) -> bool:
    """For a job that ended without a cost record: the cost of its requests that did complete.

    Providers bill every completed request, also when the job then failed;
    without this, admin cost figures would miss them.  Images are the sum of
    ``image_count`` over COMPLETED requests, cost is images x the provider's
    price per image (fal: ``fal_price_per_image``), latency runs from the
    first submission to the last ``completed_at``.  A job that already has a
    cost record, or no completed request, is left alone.

    Returns:
        True when a cost record was written.
    """
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.provider_cost_usd is not None:
            return False
        rows = s.execute(
            select(ProviderRequest.image_count, ProviderRequest.completed_at, ProviderRequest.model).where(
                ProviderRequest.job_id == job_id, ProviderRequest.status == "COMPLETED"
            )
        ).all()
        if not rows:
            return False
        images = sum(n or 0 for n, _, _ in rows)
        last = max((at for _, at, _ in rows if at is not None), default=None)
        models = {m for _, _, m in rows}
        price = get_settings().fal_price_per_image if job.provider == "fal" else 0.0
        job.provider_image_count = images
        job.provider_cost_usd = round(images * price, 6)
        job.provider_model = job.provider_model or (models.pop() if len(models) == 1 else "mixed")
        if last is not None:
            job.provider_completed_at = last
            if job.provider_submitted_at is not None:
                job.provider_latency_s = round((last - job.provider_submitted_at).total_seconds(), 3)
        s.add(job)
    return True
