"""Jobs that cannot get lost: reconcile the database (the source of truth) with RQ.

One pass (:func:`sweep`):

1. Due retries: if no *live* scheduler holds RQ's scheduler lock for the
   queue (``rq:scheduler-lock:<queue>``), the sweeper takes it for a moment
   and moves due scheduled jobs (``Retry`` intervals) to the queue, so
   retries never wait for a scheduler.  A lock whose holder is dead (its
   ``rq:scheduler:<name>`` hash gone, its heartbeat older than
   :data:`SCHEDULER_STALE_AFTER` seconds, or, on this host, its process gone)
   is released first: a worker killed while it ran the scheduler no longer
   blocks retries for the lock's 61 s TTL.
2. RQ's abandoned jobs: ``StartedJobRegistry.cleanup()`` finds started jobs
   whose worker stopped sending heartbeats (see :mod:`lashme.jobs.rq_worker`), runs
   their failure callback (``lashme.jobs.tasks.on_generate_failure``) and
   schedules their retry while retries remain; the sweeper then moves those
   retries to the front of the queue at once (a dead worker is no reason to
   back off), and the next run resumes the PROCESSING job under a new run
   token (:mod:`lashme.jobs.lifecycle`: the dead run can no longer write).
3. Lost jobs: a PENDING or PROCESSING job, unchanged for ``sweep_grace``
   seconds, whose RQ job is missing or no longer queued/started/scheduled
   (Redis restarted, an enqueue failed, a callback never ran) is enqueued
   again (``enqueue_generation`` is idempotent and ``generation.run`` claims
   with compare-and-set, so a duplicate is harmless) while it has attempts
   left, else ends FAILED through :func:`lashme.jobs.generation.fail`.
4. Full-resolution renders (:mod:`lashme.jobs.fullres`) requested but
   unchanged for ``sweep_grace`` seconds with no live RQ job are queued again.

Recovery time after a worker dies mid-job, with the defaults
(``LASHME_WORKER_MONITORING_INTERVAL`` 3 s, ``LASHME_WORKER_HEARTBEAT_GRACE`` 6 s,
``LASHME_SWEEP_INTERVAL`` 3 s): at most monitoring interval + grace until the job
counts as abandoned, plus one sweep interval, plus the time a worker takes to
pick it up: about 12 s at worst (``benchmarks/bench_recovery.py`` measures it).

:func:`run_forever` repeats this every ``sweep_interval`` seconds; a Redis lock
(``SET NX PX``, held and extended for the whole sweep, see
:func:`sweep_if_first`) lets one of several sweepers work per interval.
"""

from __future__ import annotations

import contextlib
import os
import socket
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
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import current_timestamp, utcparse
from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.jobs import fullres, generation, queue
from lashme.models import Job, JobStatus, utcnow
from lashme.ops.db import session_scope
from lashme.ops.logging_setup import get_logger
from lashme.ops.settings import get_settings

log = get_logger(__name__)
LOCK_KEY = "lashme:sweeper-lock"
ACTIVE_RQ_STATUSES = frozenset({"queued", "started", "scheduled", "deferred"})
#: seconds without a heartbeat after which a scheduler holding the lock counts as dead
#: (RQ's scheduler beats every second).
SCHEDULER_STALE_AFTER = 5.0


@dataclass
class SweepReport:
    """What one pass did.

    Attributes:
        scheduled: due scheduled jobs this sweeper moved to the queue (0 when a worker schedules).
        abandoned: RQ job ids found abandoned (worker died) and handed to RQ's retry/failure path.
        resumed: of those, the ones whose retry the sweeper queued at once.
        dead_scheduler: the name of a dead scheduler whose lock this pass released, else None.
        renders: variant ids whose full-resolution render was queued again.
        requeued: LashMe job ids enqueued again because their RQ job was lost.
        failed: job ids ended FAILED because they were lost with no attempt left.
    """

    scheduled: int = 0
    abandoned: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    dead_scheduler: str | None = None
    renders: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Counts for logs and the CLI."""
        return {
            "scheduled": self.scheduled,
            "abandoned": len(self.abandoned),
            "requeued": len(self.requeued),
            "failed": len(self.failed),
            "resumed": len(self.resumed),
            "renders": len(self.renders),
        }


def _rq_status(job_id: str, connection: Redis) -> str | None:
    try:
        return RQJob.fetch(queue.rq_job_id(job_id), connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return None


def scheduler_lock_holder(q: Queue) -> tuple[str | None, bool]:
    """Who holds RQ's scheduler lock of ``q``, and is it alive?

    A holder is dead when its metadata hash (``rq:scheduler:<name>``) is gone,
    its last heartbeat is older than :data:`SCHEDULER_STALE_AFTER` seconds, or
    it runs on this host and its process no longer exists (or is a zombie).

    Returns:
        ``(name, alive)``; ``(None, False)`` when nobody holds the lock.
    """
    conn = q.connection
    raw = conn.get(RQScheduler.get_locking_key(q.name))
    if raw is None:
        return None, False
    name = raw.decode() if isinstance(raw, bytes) else str(raw)
    meta = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in conn.hgetall(SCHEDULER_KEY_TEMPLATE % name).items()
    }
    if not meta.get("last_heartbeat"):
        return name, False
    try:
        age = (utcnow() - utcparse(meta["last_heartbeat"])).total_seconds()
    except ValueError:
        return name, False
    if age > SCHEDULER_STALE_AFTER:
        return name, False
    pid = int(meta.get("pid") or 0)
    if meta.get("hostname") == socket.gethostname() and pid > 0 and not _process_alive(pid):
        return name, False
    return name, True


def _process_alive(pid: int) -> bool:
    """True when ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust kill(0)


def release_dead_scheduler_lock(q: Queue) -> str | None:
    """Release ``q``'s scheduler lock if its holder is dead; returns the dead holder's name.

    Compare-and-delete (RQ's ``release_lock`` script): a live scheduler that
    took the lock meanwhile keeps it.
    """
    name, alive = scheduler_lock_holder(q)
    if name is None or alive:
        return None
    if release_lock(q.connection, RQScheduler.get_locking_key(q.name), name):
        log.warning("released the scheduler lock of a dead scheduler", scheduler=name, queue=q.name)
        return name
    return None


def enqueue_due_retries(q: Queue) -> int:
    """Move due scheduled jobs of ``q`` to the queue unless a live worker's scheduler owns it.

    A lock held by a dead scheduler is released first (:func:`release_dead_scheduler_lock`).

    Returns:
        How many jobs were moved.
    """
    registry = ScheduledJobRegistry(queue=q)
    if not registry.get_jobs_to_schedule(current_timestamp()):
        return 0
    scheduler = RQScheduler([q], connection=q.connection)
    if not scheduler.acquire_locks():
        if release_dead_scheduler_lock(q) is None or not scheduler.acquire_locks():
            return 0  # a live scheduler (in a worker) does it
    try:
        due = len(registry.get_jobs_to_schedule(current_timestamp()))
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
    return due


def resume_abandoned_now(q: Queue, rq_ids: list[str]) -> list[str]:
    """Queue at once (at the front) the retries RQ scheduled for abandoned jobs ``rq_ids``.

    Each id is taken off the ``ScheduledJobRegistry`` with ``ZREM`` first;
    only the caller whose ``ZREM`` removed it enqueues it, so a scheduler
    running at the same moment cannot queue it twice (and a duplicate run
    would find the job claimed: the claim is compare-and-set).

    Returns:
        The RQ ids queued.
    """
    registry = ScheduledJobRegistry(queue=q)
    done = []
    for rid in rq_ids:
        if not q.connection.zrem(registry.key, rid):
            continue  # not scheduled (no retry left, or already moved)
        try:
            job = RQJob.fetch(rid, connection=q.connection)
        except NoSuchJobError:
            continue
        q.enqueue_job(job, at_front=True)
        done.append(rid)
    return done


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
    name, alive = scheduler_lock_holder(q)
    if name is not None and not alive:
        report.dead_scheduler = release_dead_scheduler_lock(q)
    report.scheduled = enqueue_due_retries(q)
    registry = StartedJobRegistry(queue=q)
    report.abandoned = list(registry.get_expired_job_ids())
    if report.abandoned:
        registry.cleanup()
        report.resumed = resume_abandoned_now(q, report.abandoned)
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
    report.renders = _requeue_stale_renders(conn, engine, s.sweep_grace if grace is None else grace)
    if report.scheduled or report.abandoned or report.requeued or report.failed or report.renders:
        log.warning("sweep recovered jobs", **report.as_dict(), requeued_ids=report.requeued[:20])
    return report


def _requeue_stale_renders(conn: Redis, engine: Engine | None, grace: float) -> list[str]:
    """Queue again full-resolution renders requested ``grace`` s ago or more that RQ lost."""
    with session_scope(engine) as session:
        stale = fullres.stale_requests(session, older_than_seconds=grace)
    queued = []
    for variant_id in stale:
        if queue.rq_job_status(queue.rq_fullres_id(variant_id), connection=conn) in ACTIVE_RQ_STATUSES:
            continue
        queue.enqueue_fullres(variant_id, connection=conn)
        with session_scope(engine) as session:
            fullres.touch(session, variant_id)
        queued.append(variant_id)
    return queued


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
