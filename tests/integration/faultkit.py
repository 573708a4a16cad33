"""Helpers for fault-injection tests: processes in their own groups, polling, job outcomes."""

from __future__ import annotations

import contextlib
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


class Procs:
    """Child processes started in their own process groups; ``stop_all`` ends them."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env, self.procs = log_dir, env, []

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

    def worker(self, name: str) -> subprocess.Popen:
        return self.start(name, ["worker.py"])

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
