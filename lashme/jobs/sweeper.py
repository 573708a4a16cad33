"""Jobs that cannot get lost: reconcile the database (the source of truth) with RQ.

One pass (:func:`sweep`):

1. Due retries: if no worker holds RQ's scheduler lock for the queue, the
   sweeper takes it for a moment and moves due scheduled jobs (``Retry``
   intervals) to the queue, so retries never wait for a scheduler.
2. RQ's abandoned jobs: ``StartedJobRegistry.cleanup()`` finds started jobs
   whose worker stopped sending heartbeats (see :mod:`lashme.jobs.rq_worker`), runs
   their failure callback (``lashme.jobs.tasks.on_generate_failure``) and requeues
   them while retries remain; the next run resumes the PROCESSING job.
3. Lost jobs: a PENDING or PROCESSING job, unchanged for ``sweep_grace``
   seconds, whose RQ job is missing or no longer queued/started/scheduled
   (Redis restarted, an enqueue failed, a callback never ran) is enqueued
   again (``enqueue_generation`` is idempotent and ``generation.run`` claims
   with compare-and-set, so a duplicate is harmless) while it has attempts
   left, else ends FAILED through :func:`lashme.jobs.generation.fail`.

:func:`run_forever` repeats this every ``sweep_interval`` seconds; a Redis lock
(``SET NX PX``, held and extended for the whole sweep, see
:func:`sweep_if_first`) lets one of several sweepers work per interval.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.utils import current_timestamp
from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.jobs import generation, queue
from lashme.models import Job, JobStatus, utcnow
from lashme.ops.db import session_scope
from lashme.ops.logging_setup import get_logger
from lashme.ops.settings import get_settings

log = get_logger(__name__)
LOCK_KEY = "lashme:sweeper-lock"
ACTIVE_RQ_STATUSES = frozenset({"queued", "started", "scheduled", "deferred"})


@dataclass
class SweepReport:
    """What one pass did.

    Attributes:
        scheduled: due scheduled jobs this sweeper moved to the queue (0 when a worker schedules).
        abandoned: RQ job ids found abandoned (worker died) and handed to RQ's retry/failure path.
        requeued: LashMe job ids enqueued again because their RQ job was lost.
        failed: job ids ended FAILED because they were lost with no attempt left.
    """

    scheduled: int = 0
    abandoned: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Counts for logs and the CLI."""
        return {
            "scheduled": self.scheduled,
            "abandoned": len(self.abandoned),
            "requeued": len(self.requeued),
            "failed": len(self.failed),
        }


def _rq_status(job_id: str, connection: Redis) -> str | None:
    try:
        return RQJob.fetch(queue.rq_job_id(job_id), connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return None


def enqueue_due_retries(q: Queue) -> int:
    """Move due scheduled jobs of ``q`` to the queue unless a worker's scheduler owns it; returns how many."""
    registry = ScheduledJobRegistry(queue=q)
    if not registry.get_jobs_to_schedule(current_timestamp()):
        return 0
    scheduler = RQScheduler([q], connection=q.connection)
    if not scheduler.acquire_locks():
        return 0  # a live scheduler (in a worker) does it
    try:
        due = len(registry.get_jobs_to_schedule(current_timestamp()))
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
    return due


def sweep(
    *,
    connection: Redis | None = None,
    engine: Engine | None = None,
    grace: float | None = None,
    now: datetime | None = None,
) -> SweepReport:
    """Run one reconciliation pass (see the module docstring).

    Args:
        connection: Redis (default: the app's).
        engine: database engine (default: the app's).
        grace: seconds a job must be unchanged before it counts as lost (default ``sweep_grace``).
        now: the current time (tests).

    Returns:
        What was done.

    Raises:
        redis.exceptions.RedisError: Redis unreachable (nothing is changed in the database then).
    """
    s = get_settings()
    conn = connection or queue.get_redis()
    report = SweepReport()
    q = queue.get_queue(conn)
    report.scheduled = enqueue_due_retries(q)
    registry = StartedJobRegistry(queue=q)
    report.abandoned = list(registry.get_expired_job_ids())
    if report.abandoned:
        registry.cleanup()
    cutoff = (now or utcnow()) - timedelta(seconds=s.sweep_grace if grace is None else grace)
    with session_scope(engine) as session:
        candidates = session.execute(
            select(Job.id, Job.attempts).where(
                Job.status.in_([JobStatus.PENDING, JobStatus.PROCESSING]), Job.updated_at < cutoff
            )
        ).all()
    for job_id, attempts in candidates:
        status = _rq_status(job_id, conn)
        if status in ACTIVE_RQ_STATUSES:
            continue
        if attempts >= s.job_max_attempts:
            if generation.fail(
                job_id,
                error_key="generation.interrupted",
                detail=f"lost by the queue after {attempts} attempts (rq status {status})",
                engine=engine,
            ):
                report.failed.append(job_id)
            continue
        queue.enqueue_generation(job_id, connection=conn)
        report.requeued.append(job_id)
    if report.scheduled or report.abandoned or report.requeued or report.failed:
        log.warning("sweep recovered jobs", **report.as_dict(), requeued_ids=report.requeued[:20])
    return report


def run_forever(
    *, interval: float | None = None, stop: threading.Event | None = None, connection: Redis | None = None
) -> None:
    """Sweep every ``interval`` seconds (default ``sweep_interval``) until ``stop`` is set.

    Errors (Redis or the database down) are logged and the loop goes on.
    """
    interval = interval or get_settings().sweep_interval
    stop = stop or threading.Event()
    log.info("sweeper started", interval=interval)
    while not stop.is_set():
        try:
            conn = connection or queue.get_redis()
            sweep_if_first(conn, interval=interval)
        except Exception:  # noqa: BLE001 - a sweeper must outlive outages of what it watches
            log.exception("sweep failed")
        stop.wait(interval)


def sweep_if_first(conn: Redis, *, interval: float) -> SweepReport | None:
    """Sweep unless another sweeper holds the lock; the lock is held for the whole sweep.

    The lock (redis-py ``Lock``: ``SET NX PX``) lives ``0.8 * interval``
    seconds and is extended every third of that while the sweep runs, so a
    sweep longer than the interval never overlaps another sweeper's.  After
    the sweep it is renewed once more and left to expire, so of several
    sweepers only one sweeps per interval.

    Returns:
        The report, or None when another sweeper holds the lock.

    Raises:
        redis.exceptions.RedisError: Redis unreachable.
    """
    ttl = max(1.0, interval * 0.8)
    lock = conn.lock(LOCK_KEY, timeout=ttl, thread_local=False)
    if not lock.acquire(blocking=False):
        return None
    done = threading.Event()
    keeper = threading.Thread(target=_keep_lock, args=(lock, ttl / 3, done), daemon=True)
    keeper.start()
    try:
        return sweep(connection=conn)
    finally:
        done.set()
        keeper.join()
        with contextlib.suppress(LockError):
            lock.reacquire()  # full TTL from the end of this sweep


def _keep_lock(lock: Lock, every: float, done: threading.Event) -> None:
    """Reset the lock's TTL every ``every`` seconds until ``done`` (errors logged, never raised)."""
    while not done.wait(every):
        try:
            lock.reacquire()
        except Exception:  # noqa: BLE001 - Redis down or the lock lost: the sweep itself carries on
            log.warning("could not extend the sweeper lock", exc_info=True)
            return
