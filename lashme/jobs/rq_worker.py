"""The RQ worker class LashMe runs: a fork-based RQ ``Worker`` whose work horse stays warm between jobs.

Heartbeats.  RQ keeps a started job in its ``StartedJobRegistry`` until ``now +
min(time left, job_monitoring_interval) + 60`` seconds and the worker
refreshes that deadline every ``job_monitoring_interval`` seconds; a job
whose worker died is "abandoned" once the deadline passes
(``StartedJobRegistry.cleanup``, called by :mod:`lashme.jobs.sweeper`).  The
60 s constant is ``LASHME_WORKER_HEARTBEAT_GRACE`` here and the interval is
``LASHME_WORKER_MONITORING_INTERVAL``.  Defaults: 3 s + 6 s (RQ's are 30 s +
60 s), so a job whose worker died counts as abandoned 6-9 s after its last
heartbeat and the sweeper (every ``LASHME_SWEEP_INTERVAL``, 3 s) queues it
again at once: running again ~12 s after the death at worst.

Warm work horse.  RQ's ``Worker`` forks a new work horse for every job, and
everything a horse warms up dies with it: SQLAlchemy's compiled statements,
OpenCV's lazily built tables and thread pool, the watermark layers, the
database and Redis connections.  That cost ~0.3-0.4 s per job, as much as the
studio engine's work on a 12 MP photo.  :class:`LashMeWorker` keeps RQ's
process model and its supervision (the worker process dequeues, heartbeats,
enforces the hard time limit by killing the horse at ``job_timeout + 60`` s,
and fails or retries the job of a horse that died) but forks the horse once
and hands it job after job over a socket pair: the horse runs RQ's own
``perform_job`` (the same bookkeeping, death penalty (``SIGALRM`` at
``job_timeout``) and callbacks as a forked horse) and answers ``done``.  A horse
is replaced when it dies, is killed, grows past :data:`HORSE_MAX_RSS` or has
run :data:`HORSE_MAX_JOBS` jobs, and a new one is forked while the worker is
idle, so no job waits for a fork.  Each horse lives in its own process group
(as RQ's do) and exits when its worker goes away.  Delivery stays
at-least-once: a worker or horse killed mid-job leaves the job in the started
registry until its heartbeat deadline passes, exactly as before.

Redis outages.  RQ's worker retries a lost Redis connection while it waits
for work, but when Redis drops during a job (a heartbeat, the job's
bookkeeping) its work loop logs "found an unhandled exception, quitting" and
``work()`` returns as if the worker had been stopped, or raises when its
teardown cannot reach Redis either: which of the two depends on how soon
Redis is back.  :func:`run` therefore starts a new worker (with backoff)
whenever ``work()`` ends without a shutdown request (SIGTERM/SIGINT), so a
Redis restart never leaves the queue without workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import random
import select
import signal
import socket
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.exceptions import InvalidJobOperation, StopRequested
from rq.executions import Execution
from rq.job import Job as RQJob
from rq.job import JobStatus as RQJobStatus
from rq.queue import Queue
from rq.utils import now
from rq.worker import WorkerStatus

from lashme.jobs.queue import get_queue, get_redis
from lashme.ops.logging_setup import get_logger
from lashme.ops.settings import get_settings

log = get_logger(__name__)

#: a horse whose resident memory exceeds this after a job (and after returning freed heap to the
#: system) is replaced by a fresh fork of the worker, bytes
HORSE_MAX_RSS = 300 * 2**20
#: jobs one horse runs before it is replaced (bounds what a slow leak can accumulate)
HORSE_MAX_JOBS = 200
_DONE = b"done\n"  # the horse ran the job and waits for the next one
_DONE_EXIT = b"exit\n"  # the horse ran the job and exits (worn out): the worker reaps it
_IDLE_POLL = 1.0  # seconds between an idle horse's checks that its worker is still alive


def _rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc/self/statm``), 0 when unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc ``malloc_trim``; no-op elsewhere)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


class LashMeWorker(Worker):
    """RQ worker with a warm, reused work horse and a heartbeat TTL of ``worker_heartbeat_grace``.

    See the module docstring.  The horse runs RQ's ``perform_job`` for each job; the
    worker process keeps RQ's monitoring of it (heartbeats, hard time limit, failure
    handling of a horse that died).
    """

    _warm: tuple[int, socket.socket] | None = None  # (pid, worker's end of the socket pair)
    #: True once SIGTERM/SIGINT asked this worker to stop; ``work()`` returning without it means
    #: RQ's loop quit on an error (see :func:`run`)
    shutdown_requested: bool = False

    def handle_warm_shutdown_request(self) -> None:
        """Note the stop request (RQ calls this from its SIGTERM/SIGINT handler), then log it as RQ does."""
        self.shutdown_requested = True
        super().handle_warm_shutdown_request()

    def get_heartbeat_ttl(self, job: RQJob) -> int:
        """Seconds until this job counts as abandoned unless the next heartbeat arrives."""
        grace = get_settings().worker_heartbeat_grace
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + grace
        return self.job_monitoring_interval + grace

    # --- the worker side ------------------------------------------------------------------------

    def bootstrap(self, *args, **kwargs) -> None:
        """RQ's start-up, then fork the first horse before any job waits for it."""
        super().bootstrap(*args, **kwargs)
        self._ensure_horse()

    def execute_job(self, job: RQJob, queue: Queue) -> None:
        """Hand ``job`` to the warm horse (forked now if there is none) and monitor it."""
        self.prepare_execution(job)
        self.fork_work_horse(job, queue)
        self.monitor_work_horse(job, queue)
        self.set_state(WorkerStatus.IDLE)
        self._ensure_horse()  # fork the next horse now, while idle, if this one is gone

    def fork_work_horse(self, job: RQJob, queue: Queue) -> None:
        """Send the job to the warm horse (RQ's ``fork_work_horse`` forks one per job instead)."""
        pid, sock = self._ensure_horse()
        self._horse_pid = pid
        try:
            sock.sendall(f"{job.id} {self.execution.id} {queue.name}\n".encode())
        except OSError:  # the horse died while idle: monitor_work_horse sees the EOF and reaps it
            pass
        self.procline(f"Job {job.id} sent to horse {pid} at {time.time()}")

    def monitor_work_horse(self, job: RQJob, queue: Queue) -> None:
        """Wait for the horse's ``done``, heartbeating meanwhile; handle a horse that died or hung.

        Mirrors RQ's ``Worker.monitor_work_horse``: a horse still busy after ``job_timeout + 60``
        seconds is killed; a horse that died leaves its job to RQ's failure handling
        (``handle_work_horse_killed`` then ``handle_job_failure``: retried or failed).
        """
        pid, sock = self._warm
        job.started_at = now()
        ret_val = None
        reply = b""
        while True:
            try:
                ready, _, _ = select.select([sock], [], [], self.job_monitoring_interval)
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    raise
                self.heartbeat()
                continue
            if ready:
                try:
                    chunk = sock.recv(64)
                except OSError:
                    chunk = b""
                reply += chunk
                if chunk and not reply.endswith(b"\n"):
                    continue  # a partial reply: read the rest
                if reply in (_DONE, _DONE_EXIT):
                    if reply == _DONE_EXIT:
                        self._reap_horse()
                    self.set_current_job_working_time(0)
                    self._horse_pid = 0
                    return
                _, ret_val, _ = self._reap_horse()  # EOF: the horse died
                break
            self.set_current_job_working_time((now() - job.started_at).total_seconds())
            if job.timeout != -1 and self.current_job_working_time > (job.timeout or 0) + 60:
                self.heartbeat(self.job_monitoring_interval + 60)
                self.kill_horse()
                self._reap_horse()
                break
            self.maintain_heartbeats(job)
        self.set_current_job_working_time(0)
        self._horse_pid = 0
        if ret_val == os.EX_OK:
            return
        try:
            job_status = job.get_status()
        except InvalidJobOperation:
            return
        if self._stopped_job_id == job.id:
            self.log.warning("Worker %s: job %s stopped by user", self.name, job.id)
            if job.stopped_callback:
                job.execute_stopped_callback(self.death_penalty_class)
            self.handle_job_failure(job, queue=queue, exc_string="Job stopped by user, horse terminated.")
        elif job_status not in (RQJobStatus.FINISHED, RQJobStatus.FAILED):
            job.ended_at = now()
            sig = f" (signal {os.WTERMSIG(ret_val)})" if ret_val and os.WIFSIGNALED(ret_val) else ""
            exc_string = f"Work-horse terminated unexpectedly; waitpid returned {ret_val}{sig}; "
            self.log.warning("Worker %s: job %s failed (%s)", self.name, job.id, exc_string)
            self.handle_work_horse_killed(job, pid, ret_val, None)
            self.handle_job_failure(job, queue=queue, exc_string=exc_string)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the horse's process group (busy or idle)."""
        if self._horse_pid == 0 and self._warm is not None:
            self._horse_pid = self._warm[0]
        super().kill_horse(sig)

    def wait_for_horse(self):  # noqa: ANN201 - RQ's signature
        """Reap the horse after it was killed (RQ calls this on a cold shutdown)."""
        return self._reap_horse()

    def teardown(self) -> None:
        """Let the idle horse go (it exits on EOF), then RQ's teardown."""
        if self._warm is not None and not self.is_horse:
            pid, sock = self._warm
            with contextlib.suppress(OSError):
                sock.close()
            for _ in range(50):  # up to 0.5 s for it to exit by itself
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                    time.sleep(0.01)
                    continue
                break
            else:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            self._warm = None
        super().teardown()

    def _reap_horse(self) -> tuple[int | None, int | None, None]:
        """Wait for the (dead or killed) horse and forget it; ``(pid, wait status, None)``."""
        if self._warm is None:
            return None, None, None
        pid, sock = self._warm
        self._warm = None
        with contextlib.suppress(OSError):
            sock.close()
        status = None
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(pid, 0)
        return pid, status, None

    def _ensure_horse(self) -> tuple[int, socket.socket]:
        """The live warm horse, forked now if there is none (or the last one exited)."""
        if self._warm is not None:
            pid, _ = self._warm
            try:
                exited = os.waitpid(pid, os.WNOHANG)[0] != 0
            except ChildProcessError:
                exited = True
            if not exited:
                return self._warm
            with contextlib.suppress(OSError):
                self._warm[1].close()
            self._warm = None
        ours, theirs = socket.socketpair()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the horse
            ours.close()
            try:
                os.setpgrp()
                self._horse_main(theirs, parent)
            finally:
                os._exit(1)
        theirs.close()
        self._warm = (pid, ours)
        self.log.debug("Worker %s: forked warm horse %s", self.name, pid)
        return self._warm

    # --- the horse side -------------------------------------------------------------------------

    def _horse_main(self, sock: socket.socket, parent: int) -> None:
        """Run jobs sent by the worker until it closes the socket, dies, or the horse is worn out."""
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self._warm = None
        self._dispose_inherited_db_pool()
        queues = {q.name: q for q in self.queues}
        reader = sock.makefile("rb")
        jobs_done = 0
        while True:
            ready, _, _ = select.select([sock], [], [], _IDLE_POLL)
            if not ready:
                if os.getppid() != parent:
                    os._exit(0)  # the worker is gone: nobody will send work
                continue
            line = reader.readline()
            if not line:
                os._exit(0)  # the worker closed the socket (shutdown)
            job_id, execution_id, queue_name = line.decode().split()
            try:
                job = RQJob.fetch(job_id, connection=self.connection, serializer=self.serializer)
                self.execution = Execution.fetch(execution_id, job.id, connection=self.connection)
                queue = queues.get(queue_name) or Queue(
                    queue_name, connection=self.connection, serializer=self.serializer
                )
                self.perform_job(job, queue)
            except Exception:  # noqa: BLE001 - as RQ's horse: exit 1, the worker handles the job
                self.log.exception("Worker %s: horse failed to run job %s", self.name, job_id)
                os._exit(1)
            jobs_done += 1
            _trim_heap()
            worn = jobs_done >= HORSE_MAX_JOBS or _rss_bytes() > HORSE_MAX_RSS
            sock.sendall(_DONE_EXIT if worn else _DONE)
            if worn:
                os._exit(0)

    @staticmethod
    def _dispose_inherited_db_pool() -> None:
        """Drop the database connections inherited from the worker (never share them across a fork)."""
        with contextlib.suppress(Exception):
            from lashme.ops.db import get_engine

            get_engine().dispose(close=False)


def build_worker(connection: Redis | None = None) -> LashMeWorker:
    """A worker on the generation queue with the configured heartbeat settings."""
    conn = connection or get_redis()
    return LashMeWorker(
        [get_queue(conn)],
        connection=conn,
        job_monitoring_interval=get_settings().worker_monitoring_interval,
    )


def _raise_stop_requested(_signum: int, _frame: object) -> None:
    raise StopRequested


def run(*, with_scheduler: bool, max_backoff: float = 30.0) -> None:
    """Work the queue until stopped (SIGTERM/SIGINT); start a new worker whenever one quits otherwise.

    RQ's work loop quits on an error it did not expect (typically Redis going away during a
    job) and then returns normally, or raises from its teardown when Redis is still down; either
    way, unless a shutdown was requested, a new worker is started after a backoff of 1 s doubling
    up to ``max_backoff`` (back to 1 s after a worker that ran longer than ``max_backoff``).

    Args:
        with_scheduler: also run RQ's scheduler (moves due retries to the queue).
        max_backoff: longest wait between restarts, seconds (1, 2, 4, ... up to this).
    """
    delay = 1.0
    try:
        while True:
            started = time.monotonic()
            worker: LashMeWorker | None = None
            try:
                worker = build_worker()
                worker.work(with_scheduler=with_scheduler, logging_level=None)
                reason = "work loop quit"
            except (RedisConnectionError, RedisTimeoutError) as exc:
                reason = type(exc).__name__
            if worker is not None and worker.shutdown_requested:
                return
            # RQ's handlers of the worker that quit would act on it (and on Redis): a stop
            # request from now until the next worker installs its own simply ends the loop
            signal.signal(signal.SIGTERM, _raise_stop_requested)
            signal.signal(signal.SIGINT, _raise_stop_requested)
            if time.monotonic() - started > max_backoff:
                delay = 1.0
            log.warning("worker stopped unexpectedly, starting a new one", reason=reason, retry_in=delay)
            time.sleep(delay)
            delay = min(delay * 2, max_backoff)
    except StopRequested:  # SIGTERM/SIGINT between two workers
        return
