"""Ledger throughput on PostgreSQL under concurrent writers, and unlock latency.

Creates a scratch database on 127.0.0.1:5432 (dropped at the end), migrates
it, then:

1. ``--writers`` threads (default 8) each post ``--ops`` ledger entries
   (alternating +1 grants and −1 spends) against a shared pool of 8 users,
   so writers contend for the same rows: prints entries per second.
2. The same writers unlock variants (1 credit each, the real
   ``unlocks.unlock_variant`` path incl. ownership checks): prints p50/p99
   latency per unlock.
3. Runs ``ledger.verify`` and prints its verdict.

Usage: ``python benchmarks/bench_ledger.py [--writers 8] [--ops 500]``
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import threading
import time
from pathlib import Path

import psycopg

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def main() -> None:
    """Create a scratch database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=500, help="ledger entries per writer")
    parser.add_argument("--unlocks", type=int, default=100, help="unlocks per writer")
    args = parser.parse_args()

    name = f"lashme_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    os.environ.setdefault("LASHME_DATA_DIR", f"/tmp/{name}")
    try:
        run(args)
    finally:
        from lashme.ops.db import get_engine

        get_engine().dispose()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args) -> None:
    """Migrate, then measure ledger posts and unlocks; prints the figures."""
    from alembic.config import Config

    from alembic import command

    root = Path(__file__).resolve().parents[1]
    os.chdir(root)
    command.upgrade(Config("alembic.ini"), "head")

    from lashme.accounts import auth
    from lashme.credits import ledger, unlocks
    from lashme.models import Job, JobStatus, LedgerKind, Variant
    from lashme.ops.db import get_engine, session_scope

    get_engine()  # default pool: 5 + 10 overflow connections, enough for 8 writers
    users = []
    with session_scope() as s:
        for i in range(8):
            u = auth.sign_up(s, email=f"bench{i}@example.com", password="Secret123", signup_bonus=0)
            ledger.grant(
                s,
                user_id=u.id,
                amount=1_000_000,
                kind=LedgerKind.GRANT,
                reason="bench",
                idempotency_key=f"seed{i}",
            )
            users.append(u.id)
    print(f"PostgreSQL, {args.writers} writers, {len(users)} shared users")

    barrier = threading.Barrier(args.writers)

    def post_entries(w: int) -> None:
        barrier.wait()
        for k in range(args.ops):
            uid = users[(w + k) % len(users)]
            with session_scope() as s:
                ledger.post(
                    s,
                    user_id=uid,
                    delta=1 if k % 2 else -1,
                    kind=LedgerKind.GRANT if k % 2 else LedgerKind.UNLOCK,
                    reason="bench",
                    idempotency_key=f"w{w}-{k}",
                )

    threads = [threading.Thread(target=post_entries, args=(w,)) for w in range(args.writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    total = args.writers * args.ops
    print(f"ledger entries: {total} in {elapsed:.2f} s = {total / elapsed:.0f} ops/s")

    # variants to unlock: one DONE job per (writer, batch of 4)
    variants: dict[int, list[tuple[int, str]]] = {w: [] for w in range(args.writers)}
    with session_scope() as s:
        for w in range(args.writers):
            uid = users[w % len(users)]
            for j in range(0, args.unlocks, 4):
                job = Job(
                    user_id=uid,
                    provider="studio",
                    presets=["natural"] * 4,
                    original_key="k",
                    original_width=1,
                    original_height=1,
                    status=JobStatus.DONE,
                )
                s.add(job)
                s.flush()
                for i in range(min(4, args.unlocks - j)):
                    v = Variant(
                        job_id=job.id, index=i, preset="natural", full_key="f", preview_key="p", thumb_key="t"
                    )
                    s.add(v)
                    s.flush()
                    variants[w].append((uid, v.id))
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.writers)

    def unlock_all(w: int) -> None:
        barrier.wait()
        mine = []
        for uid, vid in variants[w]:
            t = time.perf_counter()
            with session_scope() as s:
                unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=unlock_all, args=(w,)) for w in range(args.writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    print(
        f"unlocks: {len(latencies)} in {elapsed:.2f} s = {len(latencies) / elapsed:.0f}/s;"
        f" latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    with session_scope() as s:
        report = ledger.verify(s)
    print(f"ledger verify: {'OK' if report.ok else 'FAILED'} ({report.users_checked} users)")


if __name__ == "__main__":
    main()
