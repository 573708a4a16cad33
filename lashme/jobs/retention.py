"""Retention: delete old jobs, storage objects first, then their rows; and storage/job statistics.

Which jobs (only finished ones: DONE, FAILED or CANCELED; the sweeper
finishes stuck ones first):

- anonymous jobs (no ``user_id``) created more than ``anon_retention_hours``
  (default 24) ago;
- users' jobs created more than ``user_retention_days`` (default 90) ago.

For each job, in one transaction holding the job row locked (and
re-checking it is still finished): every object under its folder
(``{owner}/{job_id}/``) is deleted, then its unlocks, variants, events,
provider requests and the job row.  Ledger entries stay (they reference
jobs and variants by plain id, not by foreign key), so balances and the
audit trail are unchanged.  A job whose objects could not be deleted keeps
its rows and is retried on the next run; an error with one job is recorded
in the report and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from lashme.files.storage import Storage, get_storage
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, utcnow
from lashme.ops.db import session_scope
from lashme.ops.logging_setup import get_logger
from lashme.ops.settings import get_settings

log = get_logger(__name__)
AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1h", timedelta(hours=1)),
    ("<24h", timedelta(hours=24)),
    ("<7d", timedelta(days=7)),
    ("<30d", timedelta(days=30)),
    ("<90d", timedelta(days=90)),
)


@dataclass
class CleanupReport:
    """Result of :func:`cleanup`; with ``dry_run`` the counts are what would be deleted."""

    dry_run: bool
    jobs: int = 0
    objects: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain dict for the CLI and logs."""
        return {
            "dry_run": self.dry_run,
            "jobs": self.jobs,
            "objects": self.objects,
            "bytes": self.bytes,
            "errors": len(self.errors),
        }


def _job_folder(job: Job) -> str:
    return job.original_key.rsplit("/", 1)[0] + "/"


def expired_job_ids(session, *, now: datetime, limit: int = 500) -> list[str]:
    """Ids of finished jobs past their retention (oldest first, at most ``limit``)."""
    s = get_settings()
    anon_cutoff = now - timedelta(hours=s.anon_retention_hours)
    user_cutoff = now - timedelta(days=s.user_retention_days)
    query = (
        select(Job.id)
        .where(
            Job.status.in_(list(jobs.FINAL)),
            or_(
                and_(Job.user_id.is_(None), Job.created_at < anon_cutoff),
                and_(Job.user_id.is_not(None), Job.created_at < user_cutoff),
            ),
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def delete_job(job_id: str, *, storage: Storage, engine: Engine | None = None) -> int | None:
    """Delete one finished job's objects, then its rows (:func:`lashme.jobs.lifecycle.delete_job_rows`).

    One transaction locks the job row (``SELECT ... FOR UPDATE``), re-checks
    that the job is still final (a retry may have brought it back since it
    was selected), deletes its objects, then its rows; a concurrent retry
    waits for it and then finds the job gone.

    Returns:
        Objects deleted, or None when the job was skipped (gone or no longer final).

    Raises:
        StorageError: the objects could not be deleted (the rows are kept).
    """
    with session_scope(engine) as s:
        job = s.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
        if job is None or job.status not in jobs.FINAL:
            if job is not None:
                log.warning(
                    "retention skipped a job that is no longer final", job_id=job_id, status=job.status
                )
            return None
        removed = storage.delete_prefix(_job_folder(job))
        jobs.delete_job_rows(s, job_id)
    return removed


def cleanup(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    engine: Engine | None = None,
    storage: Storage | None = None,
    batch: int = 500,
) -> CleanupReport:
    """Delete (or with ``dry_run`` only count) every job past its retention.

    Returns:
        Jobs, objects and bytes deleted (or that would be); an error with one job
        is collected in ``errors`` and the run goes on.
    """
    storage = storage or get_storage()
    now = now or utcnow()
    report = CleanupReport(dry_run=dry_run)
    seen: set[str] = set()
    while True:
        with session_scope(engine) as s:
            ids = [i for i in expired_job_ids(s, now=now, limit=batch + len(seen)) if i not in seen]
            found = {i: s.get(Job, i) for i in ids}
            folders = {i: _job_folder(job) for i, job in found.items() if job is not None}
        if not ids:
            break
        for job_id in ids:
            seen.add(job_id)
            try:
                if job_id not in folders:  # deleted meanwhile (a user, another cleanup)
                    continue
                objects, size = storage.usage(folders[job_id])
                if not dry_run and delete_job(job_id, storage=storage, engine=engine) is None:
                    continue
            except Exception as exc:  # noqa: BLE001 - one bad job never stops the run
                log.warning("retention could not delete a job", job_id=job_id, error=repr(exc))
                report.errors.append(f"{job_id}: {exc!r}")
                continue
            report.jobs += 1
            report.objects += objects
            report.bytes += size
    log.info("retention cleanup", **report.as_dict())
    return report


def stats(
    *, now: datetime | None = None, engine: Engine | None = None, storage: Storage | None = None
) -> dict:
    """Storage and job figures for operators.

    Returns:
        ``{"objects": int, "bytes": int, "jobs_by_status": {status: n},
        "jobs_by_age": {bucket: n}}``; age buckets are ``<1h``, ``<24h``, ``<7d``,
        ``<30d``, ``<90d`` and ``older`` (by ``created_at``, non-overlapping).

    Raises:
        StorageError: the storage could not be listed.
    """
    storage = storage or get_storage()
    now = now or utcnow()
    objects, size = storage.usage()
    with session_scope(engine) as s:
        by_status = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        by_age: dict[str, int] = {}
        newer_than = now + timedelta(days=1)
        for label, age in AGE_BUCKETS:
            since = now - age
            in_bucket = (Job.created_at >= since, Job.created_at < newer_than)
            by_age[label] = s.scalar(select(func.count()).select_from(Job).where(*in_bucket))
            newer_than = since
        by_age["older"] = s.scalar(select(func.count()).select_from(Job).where(Job.created_at < newer_than))
    return {
        "objects": objects,
        "bytes": size,
        "jobs_by_status": {str(k): v for k, v in by_status.items()},
        "jobs_by_age": by_age,
    }
