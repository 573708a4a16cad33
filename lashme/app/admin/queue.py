"""Admin queue monitor: the generation queue's RQ figures and its workers (read only).

The figures are the same rq-dashboard shows for one queue: jobs waiting in
the queue and in each RQ registry (started, failed, deferred, scheduled,
finished, canceled) and every worker listening on the queue.  Registries are
counted with ``cleanup=False`` so looking at the page never moves jobs
(abandoned-job recovery is the sweeper's job, see :mod:`lashme.jobs.sweeper`).
When Redis does not answer the result says so (``available=False``)
instead of raising.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from sqlmodel import Session

from lashme.app.admin.guard import require_admin
from lashme.jobs.queue import get_queue, get_redis
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerRow:
    """One RQ worker on the generation queue.

    Attributes:
        name: worker name (host and pid by default).
        state: ``idle``, ``busy``, ``suspended`` … (RQ's).
        current_job_id: the RQ job it is running (``generate-{job id}``), if any.
        last_heartbeat: its last heartbeat (aware UTC), if known.
        successful: jobs it finished.
        failed: jobs that failed on it.
        hostname: the machine it runs on, if known.
        pid: its process id, if known.
    """

    name: str
    state: str
    current_job_id: str | None
    last_heartbeat: datetime | None
    successful: int
    failed: int
    hostname: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class QueueFigures:
    """:func:`queue_figures`' answer; counts are 0 and ``workers`` empty when ``available`` is False.

    Attributes:
        available: Redis answered.
        error: what went wrong when it did not (the exception's class name).
        queue: the RQ queue's name.
        queued: jobs waiting in the queue.
        started: jobs running (started registry).
        failed: jobs in the failed registry.
        deferred: jobs waiting on a dependency.
        scheduled: jobs scheduled for later (retries with a back-off).
        finished: finished jobs still remembered (``result_ttl``).
        canceled: canceled RQ jobs.
        workers: the workers listening on the queue.
    """

    available: bool
    queue: str
    error: str | None = None
    queued: int = 0
    started: int = 0
    failed: int = 0
    deferred: int = 0
    scheduled: int = 0
    finished: int = 0
    canceled: int = 0
    workers: list[WorkerRow] = field(default_factory=list)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def queued_count(connection: Redis | None = None) -> int | None:
    """Jobs waiting in the generation queue now; None when Redis does not answer (logged).

    Args:
        connection: Redis connection (default: the app's).

    Returns:
        The number of queued jobs, or None.
    """
    try:
        return get_queue(connection or get_redis()).count
    except (RedisError, OSError, RuntimeError) as exc:
        log.warning("queue figures unavailable: %s", type(exc).__name__)
        return None


def queue_figures(session: Session, actor_id: int | None, *, connection: Redis | None = None) -> QueueFigures:
    """The generation queue's RQ counts and workers.

    Args:
        session: open session (only for the role check).
        actor_id: the caller's user id (must be an admin).
        connection: Redis connection (default: the app's, ``REDIS_URL``).

    Returns:
        The :class:`QueueFigures`; ``available=False`` with ``error`` when Redis does not answer.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="queue.figures")
    session.commit()  # end the read transaction (SQLite's write lock) before waiting on Redis
    name = get_settings().queue_name
    try:
        q = get_queue(connection or get_redis())
        counts = {
            "queued": q.count,
            "started": q.started_job_registry.get_job_count(cleanup=False),
            "failed": q.failed_job_registry.get_job_count(cleanup=False),
            "deferred": q.deferred_job_registry.get_job_count(cleanup=False),
            "scheduled": q.scheduled_job_registry.get_job_count(cleanup=False),
            "finished": q.finished_job_registry.get_job_count(cleanup=False),
            "canceled": q.canceled_job_registry.get_job_count(cleanup=False),
        }
        workers = [
            WorkerRow(
                name=w.name,
                state=str(w.get_state()),
                current_job_id=w.get_current_job_id(),
                last_heartbeat=_aware(w.last_heartbeat),
                successful=w.successful_job_count,
                failed=w.failed_job_count,
                hostname=w.hostname,
                pid=w.pid,
            )
            for w in Worker.all(queue=q)
        ]
    except (RedisError, OSError, RuntimeError) as exc:
        log.warning("queue figures unavailable: %s", type(exc).__name__)
        return QueueFigures(available=False, queue=name, error=type(exc).__name__)
    workers.sort(key=lambda w: w.name)
    return QueueFigures(available=True, queue=name, workers=workers, **counts)
