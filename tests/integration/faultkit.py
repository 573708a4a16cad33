"""Helpers for fault-injection tests: processes in their own groups, polling, job outcomes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from lashme.models import Job, LedgerEntry, Variant
from lashme.ops.db import session_scope

ROOT = Path(__file__).resolve().parents[2]


class ForkedProc:
    """A worker forked by the zygote (``tests/integration/worker_zygote.py``): not this process's
    child, so ``poll``/``wait`` watch /proc (the zygote's kernel reaps it: no zombie stays).

    ``returncode`` is None while it runs, then -1 (the exit status goes to the zygote, unseen here).
    """

    def __init__(self, pid: int, name: str) -> None:
        self.pid, self.name, self.returncode = pid, name, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                state = "X"
            if state in ("Z", "X"):
                self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.name} ({self.pid})", timeout)
            time.sleep(0.01)
        return self.returncode


class WorkerZygote:
    """One pre-imported ``worker.py`` process (``tests/integration/worker_zygote.py``) that forks
    fresh workers on request: each is a real ``worker.py`` run in its own session with the
    request's environment, minus the ~2 s of imports an ``exec`` pays.  The integration tests
    share one per session (fixture ``worker_zygote``).
    """

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        with open(log_dir / "zygote.log", "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.worker_zygote"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                text=True,
            )
        self._ready = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, name: str, log: Path, env: dict[str, str]) -> ForkedProc:
        """A new worker process with ``env`` (all of it: nothing of the zygote's is kept) logging to ``log``."""
        if not self._ready:
            if self.proc.stdout.readline().strip() != "ready":
                err = (self.log_dir / "zygote.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"the worker zygote did not start:\n{err}")
            self._ready = True
        self.proc.stdin.write(json.dumps({"log": str(log), "env": dict(env)}) + "\n")
        self.proc.stdin.flush()
        return ForkedProc(int(self.proc.stdout.readline()), name)

    def close(self) -> None:
        """End the zygote (not the workers it forked: they live in sessions of their own)."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # it exits at the end of its input
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class Procs:
    """Child processes started in their own process groups; ``stop_all`` ends them.

    Workers (:meth:`worker`) are forked by a :class:`WorkerZygote` (the one given, else one of
    its own, started by :meth:`prepare_workers` or the first request), so a test that kills ten
    workers does not pay ten interpreter start-ups.
    """

    def __init__(self, log_dir: Path, env: dict[str, str], zygote: WorkerZygote | None = None) -> None:
        self.log_dir, self.env, self.procs = log_dir, env, []
        self._zygote, self._own_zygote = zygote, False

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env or self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.procs.append(proc)
        return proc

    def prepare_workers(self) -> None:
        """Start a zygote of this ``Procs``'s own now, unless one was given or is running."""
        if self._zygote is None or not self._zygote.alive():
            self._zygote, self._own_zygote = WorkerZygote(self.log_dir, self.env), True

    def worker(self, name: str, env: dict[str, str] | None = None) -> ForkedProc:
        """A ``worker.py`` process with ``env`` (default: ``self.env`` as it is now), logging to
        ``<log_dir>/<name>.log``."""
        self.prepare_workers()
        proc = self._zygote.fork(name, self.log_dir / f"{name}.log", env or self.env)
        self.procs.append(proc)
        return proc

    def sweeper(self, interval: float = 0.5) -> subprocess.Popen:
        return self.start("sweeper", ["-m", "lashme.cli", "sweep", "--loop", "--interval", str(interval)])

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the process's group and to its children's groups (RQ's work horse
        calls ``setsid``); returns how many child processes were hit."""
        children = child_pids(proc.pid)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(10)
        return len(children)

    def stop_all(self) -> None:
        if self._own_zygote:
            self._zygote.close()
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill(proc)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in self.log_dir.glob("*.log")
        )


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s")


def statuses(job_ids: list[str]) -> dict[str, str]:
    with session_scope() as s:
        rows = s.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all()
    return {i: str(st) for i, st in rows}


def all_final(job_ids: list[str]) -> bool:
    return all(st in ("DONE", "FAILED", "CANCELED") for st in statuses(job_ids).values())


def outcome(job_ids: list[str]) -> Counter:
    return Counter(statuses(job_ids).values())


def duplicate_variants(job_ids: list[str]) -> int:
    """Variant rows beyond one per (job, index) — must be 0."""
    with session_scope() as s:
        rows = s.execute(
            select(Variant.job_id, Variant.index, func.count())
            .where(Variant.job_id.in_(job_ids))
            .group_by(Variant.job_id, Variant.index)
        ).all()
    return sum(n - 1 for _, _, n in rows)


def duplicate_ledger_keys() -> int:
    with session_scope() as s:
        rows = s.execute(
            select(LedgerEntry.idempotency_key, func.count()).group_by(LedgerEntry.idempotency_key)
        ).all()
    return sum(n - 1 for _, n in rows)
