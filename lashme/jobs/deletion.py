"""The one way a job is deleted: its stored files first, then its rows; the ledger stays.

Used by retention (``lashme.jobs.retention``) and by the gallery's delete
actions (``lashme.app.gallery``); callers check ownership and policy, this
module checks that the job is finished and does the deleting.

Order and guarantees, in the caller's transaction:

1. lock the job row (``SELECT … FOR UPDATE``; SQLite holds its write lock
   already) and re-check that the job is finished (DONE, FAILED, CANCELED):
   a retry that brought it back meanwhile wins, and a concurrent retry waits
   for the delete and then finds the job gone;
2. delete every object under the job's folder (``{owner}/{job_id}/``); if
   that fails nothing else changes and the call can be repeated;
3. delete its unlocks, variants, events, provider requests and the job row.

Ledger entries stay: they reference jobs and variants by plain id, not by
foreign key, so balances and the audit trail are unchanged.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session

from lashme.errors import DomainError
from lashme.files.storage import Storage
from lashme.files.storage.base import StorageError
from lashme.models import FINAL_JOB_STATUSES, Job, JobEvent, ProviderRequest, Unlock, Variant


def job_folder(job: Job) -> str:
    """The storage folder holding a job's original and variant files (``u{id}/{job}/``, ``anon/{job}/``)."""
    return job.original_key.rsplit("/", 1)[0] + "/"


def delete_job(session: Session, job_id: str, *, storage: Storage) -> int | None:
    """Delete a finished job: its stored files, then its rows (see the module docstring).

    Args:
        session: the caller's open session; the caller commits.
        job_id: the job to delete (ownership is the caller's check).
        storage: where the job's files live.

    Returns:
        The number of stored objects deleted, or None when the job does not exist (any more).

    Raises:
        DomainError: ``job.busy`` when the job is not finished (nothing changes);
            ``generation.storage_failed`` when its files could not be deleted (its rows are kept).
    """
    job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if job is None:
        return None
    if job.status not in FINAL_JOB_STATUSES:
        raise DomainError("job.busy")
    try:
        removed = storage.delete_prefix(job_folder(job))
    except StorageError as exc:
        raise DomainError("generation.storage_failed") from exc
    variant_ids = select(Variant.id).where(Variant.job_id == job_id).scalar_subquery()
    session.execute(delete(Unlock).where(Unlock.variant_id.in_(variant_ids)))
    session.execute(delete(Variant).where(Variant.job_id == job_id))
    session.execute(delete(JobEvent).where(JobEvent.job_id == job_id))
    session.execute(delete(ProviderRequest).where(ProviderRequest.job_id == job_id))
    session.execute(delete(Job).where(Job.id == job_id))
    session.expunge(job)
    return removed
