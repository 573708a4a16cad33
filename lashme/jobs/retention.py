"""Retention: delete old jobs, storage objects first, then their rows; and storage/job statistics.

Which jobs (only finished ones: DONE, FAILED or CANCELED; the sweeper
finishes stuck ones first):

- anonymous jobs (no ``user_id``) created more than ``anon_retention_hours``
  (default 24) ago;
- users' jobs created more than ``user_retention_days`` (default 90) ago.

Each job is deleted in its own transaction by the one delete-job path,
:func:`lashme.jobs.deletion.delete_job`: job row locked and re-checked to be
finished, every object under its folder (``{owner}/{job_id}/``) first, then
its unlocks, variants, events, provider requests and the job row.  Ledger
entries stay, so balances and the audit trail are unchanged.  A job whose
objects could not be deleted keeps its rows and is retried on the next run;
an error with one job is recorded in the report and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from lashme.errors import DomainError
from lashme.files.storage import Storage, get_storage
from lashme.jobs import deletion
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


def _delete_expired(job_id: str, *, storage: Storage, engine: Engine | None) -> bool:
    """Delete one expired job through :func:`lashme.jobs.deletion.delete_job`; False when it was skipped."""
    try:
        with session_scope(engine) as s:
            return deletion.delete_job(s, job_id, storage=storage) is not None
    except DomainError as exc:
        if exc.key != "job.busy":
            raise
        log.warning("retention skipped a job that is no longer final", job_id=job_id)
        return False


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
            folders = {i: deletion.job_folder(job) for i, job in found.items() if job is not None}
        if not ids:
            break
        for job_id in ids:
            seen.add(job_id)
            try:
                if job_id not in folders:  # deleted meanwhile (a user, another cleanup)
                    continue
                objects, size = storage.usage(folders[job_id])
                if not dry_run and not _delete_expired(job_id, storage=storage, engine=engine):
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
