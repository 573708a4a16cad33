"""Redis connection, the RQ generation queue and job-change notifications.

Notifications are Redis pub/sub messages: the worker publishes on
``lashme:job:{job_id}`` after every status change and on ``lashme:queue``
whenever a job leaves the queue; pages watching a job subscribe instead of
polling.  A lost message only delays an update (watchers re-read the
database on a slow timer as a safety net).
"""

from __future__ import annotations

import contextlib
import logging
from functools import lru_cache

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob

from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)
QUEUE_CHANNEL = "lashme:queue"
ENQUEUE_LOCK_TTL = 10  # seconds the per-job enqueue lock lives at most (an enqueue takes milliseconds)
ENQUEUE_LOCK_WAIT = 5  # seconds a caller waits for another caller's enqueue of the same job


def job_channel(job_id: str) -> str:
    """Pub/sub channel for one job's updates."""
    return f"lashme:job:{job_id}"


def rq_job_id(job_id: str) -> str:
    """The RQ job id for a LashMe job (one RQ job per LashMe job: enqueueing is idempotent)."""
    return f"generate-{job_id}"


def redis_url() -> str:
    """``REDIS_URL``.

    Raises:
        RuntimeError: not configured (the launcher sets it when it starts Redis).
    """
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set; start the app with scripts/run-app")
    return url


@lru_cache(maxsize=1)
def get_redis() -> Redis:
    """The process-wide Redis client.

    Retry policy (explicit, fail-fast): a command that meets a connection error or a time-out
    raises at once, with no client-side retry or backoff (``redis.retry.Retry(NoBackoff(), 0)``).
    Callers handle an outage themselves (uploads defer the enqueue, the sweeper logs and tries
    again next round, the worker restarts with its own backoff), so delivery stays
    at-least-once and a page never waits out a client backoff.  Pinned here because redis-py 7's
    defaults differ by constructor: ``Redis(host=...)`` retries 3 times with 1-10 s of jittered
    backoff (about 8.5 s per refused command); ``from_url`` happens not to retry today.  A retry
    gains nothing measurable (a pooled connection that a restarted Redis closed reconnects on the
    next command anyway) and slowed the sweeper's noticing of an outage from ~1.2 s to ~2.5 s
    (``tests/integration/test_faults.py::test_redis_stopped_and_restarted_with_jobs_queued``).
    Connecting gives up after 5 s (``socket_connect_timeout``).
    """
    return Redis.from_url(
        redis_url(),
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=RedisRetry(NoBackoff(), 0),
    )


def get_queue(connection: Redis | None = None) -> Queue:
    """The RQ queue generation jobs go to."""
    return Queue(get_settings().queue_name, connection=connection or get_redis())


def enqueue_lock_key(job_id: str) -> str:
    """Redis key of the short per-job lock held around "is it queued? else enqueue"."""
    return f"lashme:enqueue-lock:{job_id}"


def enqueue_generation(job_id: str, *, connection: Redis | None = None) -> RQJob:
    """Queue ``lashme.jobs.tasks.generate(job_id)`` unless it is already queued or running.

    The status check and the enqueue run under a per-job Redis lock
    (redis-py ``Lock``: ``SET NX PX``, ``ENQUEUE_LOCK_TTL`` seconds), so two
    callers (sweepers, the upload, a webhook) cannot both find the job idle
    and push it twice.

    Retries: ``job_max_attempts - 1`` with backoff (needs a worker with the
    scheduler, which ``worker.py`` starts); the failure callback marks the
    job FAILED once no retry is left.

    Raises:
        redis.exceptions.RedisError: Redis unreachable.
        redis.exceptions.LockError: another caller held the job's lock for
            longer than ``ENQUEUE_LOCK_WAIT`` seconds.
    """
    queue = get_queue(connection)
    lock = queue.connection.lock(
        enqueue_lock_key(job_id), timeout=ENQUEUE_LOCK_TTL, blocking_timeout=ENQUEUE_LOCK_WAIT
    )
    with lock:
        return _enqueue_unless_active(queue, job_id)


def _enqueue_unless_active(queue: Queue, job_id: str) -> RQJob:
    rid = rq_job_id(job_id)
    with contextlib.suppress(NoSuchJobError):
        existing = RQJob.fetch(rid, connection=queue.connection)
        if existing.get_status(refresh=False) in ("queued", "started", "scheduled", "deferred"):
            return existing
    s = get_settings()
    retries = max(0, s.job_max_attempts - 1)
    return queue.enqueue(
        "lashme.jobs.tasks.generate",
        job_id,
        job_id=rid,
        job_timeout=s.job_timeout,
        retry=Retry(max=retries, interval=[2, 10, 30][:retries]) if retries else None,
        on_failure=Callback("lashme.jobs.tasks.on_generate_failure"),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )


def rq_fullres_id(variant_id: str) -> str:
    """The RQ job id of a variant's full-resolution render (one at a time per variant)."""
    return f"fullres-{variant_id}"


def enqueue_fullres(variant_id: str, *, connection: Redis | None = None) -> RQJob:
    """Queue ``lashme.jobs.tasks.render_fullres(variant_id)`` unless it is already queued or running.

    Same per-key lock as :func:`enqueue_generation`; 2 retries (2 s, 10 s) for
    transient failures, then ``lashme.jobs.tasks.on_fullres_failure`` marks the
    render failed.  Rendering is idempotent, so a duplicate is harmless.

    Raises:
        redis.exceptions.RedisError: Redis unreachable.
        redis.exceptions.LockError: another caller held the lock too long.
    """
    q = get_queue(connection)
    rid = rq_fullres_id(variant_id)
    lock = q.connection.lock(
        enqueue_lock_key(rid), timeout=ENQUEUE_LOCK_TTL, blocking_timeout=ENQUEUE_LOCK_WAIT
    )
    with lock:
        with contextlib.suppress(NoSuchJobError):
            existing = RQJob.fetch(rid, connection=q.connection)
            if existing.get_status(refresh=False) in ("queued", "started", "scheduled", "deferred"):
                return existing
        return q.enqueue(
            "lashme.jobs.tasks.render_fullres",
            variant_id,
            job_id=rid,
            job_timeout=get_settings().job_timeout,
            retry=Retry(max=2, interval=[2, 10]),
            on_failure=Callback("lashme.jobs.tasks.on_fullres_failure"),
            at_front=True,  # a master who just paid waits for it: ahead of new generations
            result_ttl=600,
            failure_ttl=7 * 24 * 3600,
        )


def rq_job_status(rq_id: str, *, connection: Redis | None = None) -> str | None:
    """RQ's status of job ``rq_id`` (``queued``, ``started``...), None when RQ has no such job."""
    try:
        return RQJob.fetch(rq_id, connection=connection or get_redis()).get_status(refresh=False)
    except NoSuchJobError:
        return None


def queue_position(job_id: str, *, connection: Redis | None = None) -> int | None:
    """1-based position of the job in the queue, or None when not waiting in it."""
    try:
        pos = get_queue(connection).get_job_position(rq_job_id(job_id))
    except Exception:  # noqa: BLE001 - a position is a nicety, never an error
        return None
    return None if pos is None else pos + 1


def notify(job_id: str, status: str, *, connection: Redis | None = None) -> None:
    """Publish a job change; failures are logged, never raised (the DB is the truth).

    Both messages go in one round trip, so a watcher of the job receives them together and
    re-reads the job once (:meth:`lashme.app.job.JobWatch.wait`).
    """
    try:
        pipe = (connection or get_redis()).pipeline(transaction=False)
        pipe.publish(job_channel(job_id), status)
        pipe.publish(QUEUE_CHANNEL, job_id)
        pipe.execute()
    except Exception:  # noqa: BLE001
        log.warning("could not publish update for job %s", job_id, exc_info=True)
