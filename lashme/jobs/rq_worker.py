"""The RQ worker class LashMe runs: RQ's ``Worker`` with a configurable heartbeat grace.

RQ keeps a started job in its ``StartedJobRegistry`` until ``now +
min(time left, job_monitoring_interval) + 60`` seconds and the worker
refreshes that deadline every ``job_monitoring_interval`` seconds; a job
whose worker died is "abandoned" once the deadline passes
(``StartedJobRegistry.cleanup``, called by :mod:`lashme.jobs.sweeper`).  The
60 s constant is ``LASHME_WORKER_HEARTBEAT_GRACE`` here and the interval is
``LASHME_WORKER_MONITORING_INTERVAL``.  Defaults: 3 s + 6 s (RQ's are 30 s +
60 s), so a job whose worker died counts as abandoned 6-9 s after its last
heartbeat and the sweeper (every ``LASHME_SWEEP_INTERVAL``, 3 s) queues it
again at once: running again ~12 s after the death at worst.

RQ's worker retries a lost Redis connection while it waits for work, but
exits when Redis drops during a job; :func:`run` starts a new worker then
(with backoff), so a Redis restart never leaves the queue without workers.
"""

from __future__ import annotations

import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.job import Job as RQJob

from lashme.jobs.queue import get_queue, get_redis
from lashme.ops.logging_setup import get_logger
from lashme.ops.settings import get_settings

log = get_logger(__name__)


class LashMeWorker(Worker):
    """RQ worker whose heartbeat TTL uses ``worker_heartbeat_grace`` instead of RQ's 60 s."""

    def get_heartbeat_ttl(self, job: RQJob) -> int:
        """Seconds until this job counts as abandoned unless the next heartbeat arrives."""
        grace = get_settings().worker_heartbeat_grace
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + grace
        return self.job_monitoring_interval + grace


def build_worker(connection: Redis | None = None) -> LashMeWorker:
    """A worker on the generation queue with the configured heartbeat settings."""
    conn = connection or get_redis()
    return LashMeWorker(
        [get_queue(conn)],
        connection=conn,
        job_monitoring_interval=get_settings().worker_monitoring_interval,
    )


def run(*, with_scheduler: bool, max_backoff: float = 30.0) -> None:
    """Work the queue until stopped (SIGTERM/SIGINT); restart the worker after Redis outages.

    Args:
        with_scheduler: also run RQ's scheduler (moves due retries to the queue).
        max_backoff: longest wait between restarts, seconds (1, 2, 4, ... up to this).
    """
    delay = 1.0
    while True:
        try:
            build_worker().work(with_scheduler=with_scheduler, logging_level=None)
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("redis unavailable, restarting the worker", error=type(exc).__name__, retry_in=delay)
            time.sleep(delay)
            delay = min(delay * 2, max_backoff)
