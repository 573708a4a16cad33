"""Ledger throughput on PostgreSQL next to a raw-psycopg baseline doing the same work, in one run.

Creates a scratch database on 127.0.0.1:5432 (user ``postgres``; dropped at
the end), migrates it, seeds users with a large balance, and starts
``--writers`` processes (default 8).  Then, for each shape

- ``different users``: writer *w* always posts to its own user;
- ``one user``: every writer posts to the same (hot) user row;

it runs each side for ``--seconds``, rotating their order over ``--rounds``
rounds so that load from elsewhere on the machine hits all alike:

- ``alone``: ``ledger.post(None, …, delta=-1)`` — the posting as a transaction
  of its own: the one posting statement in autocommit mode on a pooled
  connection (one round trip, commit included);
- ``core``: ``with connection_scope() as c: ledger.post(c, …, delta=-1)`` —
  the posting in a Core transaction (BEGIN, posting, COMMIT);
- ``session``: ``with session_scope() as s: ledger.post(s, …, delta=-1)`` —
  the posting in an ORM session's transaction, as callers that also load or
  write ORM objects in it (unlock, job creation, settlement) run it;
- ``raw``: one psycopg connection per writer; per entry one transaction with
  the conditional ``UPDATE users … WHERE balance + delta - held >= 0
  RETURNING balance, held`` and ``INSERT INTO ledger_entries`` with that
  balance, then ``COMMIT`` (no idempotency check: a replayed key would fail).

All sides use READ COMMITTED, a commit per entry, and psycopg's default
``prepare_threshold`` (every statement is server-side prepared after 5 runs on a
connection).  It prints entries/s, each ledger side's ratio to ``raw`` against
the issue-18 targets (>= 0.7x on different users, >= 0.5x on one user), and
``ledger verify``.

Usage: ``python benchmarks/bench_ledger.py [--writers 8] [--seconds 3] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TARGETS = {"different users": 0.7, "one user": 0.5}
#: the project's sides: how each posts one entry
LABELS = {
    "alone": "ledger.post(None, ...) own transaction",
    "core": "ledger.post(c) in connection_scope()",
    "session": "ledger.post(s) in session_scope()",
}

RAW_UPDATE = (
    "UPDATE users SET balance = balance + %(d)s WHERE id = %(u)s AND balance + %(d)s - held >= 0"
    " RETURNING balance, held"
)
RAW_INSERT = (
    "INSERT INTO ledger_entries (user_id, delta, held_delta, kind, reason, idempotency_key,"
    " balance_after, held_after, actor, created_at)"
    " VALUES (%(u)s, %(d)s, 0, 'unlock', 'bench', %(k)s, %(b)s, %(h)s, 'system', now())"
)


def _writer(w: int, dsn: str, commands, results) -> None:
    """A writer process: runs (impl, user, tag, start, stop) commands until it gets None."""
    from lashme.credits import ledger
    from lashme.models import LedgerKind
    from lashme.ops.db import connection_scope, get_engine, session_scope

    raw = psycopg.connect(dsn)
    get_engine()
    while (cmd := commands.get()) is not None:
        impl, uid, tag, start, stop = cmd
        n = 0
        while time.time() < start:
            time.sleep(0.001)
        while time.time() < stop:
            key = f"{tag}:{w}:{n}"
            if impl == "alone":
                ledger.post(
                    None, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="bench", idempotency_key=key
                )
            elif impl == "core":
                with connection_scope() as c:
                    ledger.post(
                        c, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="bench", idempotency_key=key
                    )
            elif impl == "session":
                with session_scope() as s:
                    ledger.post(
                        s, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="bench", idempotency_key=key
                    )
            else:
                with raw.cursor() as cur:
                    cur.execute(RAW_UPDATE, {"d": -1, "u": uid})
                    bal, held = cur.fetchone()
                    cur.execute(RAW_INSERT, {"d": -1, "u": uid, "k": key, "b": bal, "h": held})
                raw.commit()
            n += 1
        results.put(n)
    raw.close()
    get_engine().dispose()


def main() -> None:
    """Create a scratch database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per side and shape")
    args = parser.parse_args()

    name = f"lashme_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    os.environ.setdefault("LASHME_DATA_DIR", f"/tmp/{name}")
    try:
        run(args, f"host=127.0.0.1 port=5432 user=postgres dbname={name}")
    finally:
        from lashme.ops.db import get_engine

        get_engine().dispose()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args, dsn: str) -> None:
    """Migrate, seed, measure both sides per shape; prints the figures."""
    from alembic.config import Config

    from alembic import command

    os.chdir(ROOT)
    command.upgrade(Config("alembic.ini"), "head")

    from lashme.accounts import auth
    from lashme.credits import ledger
    from lashme.models import LedgerKind
    from lashme.ops.db import get_engine, session_scope

    users = []
    with session_scope() as s:
        for i in range(args.writers + 1):
            u = auth.sign_up(s, email=f"bench{i}@example.com", password="Secret123", signup_bonus=0)
            ledger.grant(
                s,
                user_id=u.id,
                amount=10**9,
                kind=LedgerKind.GRANT,
                reason="bench",
                idempotency_key=f"seed{i}",
            )
            users.append(u.id)
    get_engine().dispose()  # the writers are forked: no connection may cross the fork

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    queues = [ctx.Queue() for _ in range(args.writers)]
    procs = [ctx.Process(target=_writer, args=(w, dsn, queues[w], results)) for w in range(args.writers)]
    for p in procs:
        p.start()

    def measure(impl: str, shape: str, tag: str) -> float:
        start = time.time() + 0.5  # every writer starts (and stops) on the same clock
        for w, q in enumerate(queues):
            uid = users[w] if shape == "different users" else users[-1]
            q.put((impl, uid, tag, start, start + args.seconds))
        return sum(results.get() for _ in queues) / args.seconds

    print(
        f"PostgreSQL, {args.writers} writer processes, {args.seconds:g} s per measurement,"
        f" {args.rounds} rotating rounds per side; one transaction per entry"
    )
    sides = tuple(LABELS) + ("raw",)
    verdicts: dict[str, list[bool]] = {k: [] for k in LABELS}
    try:
        for impl in sides:
            measure(impl, "different users", f"warm-{impl}")
        for shape, target in TARGETS.items():
            rates: dict[str, list[float]] = {k: [] for k in sides}
            for r in range(args.rounds):
                for impl in sides[r % len(sides) :] + sides[: r % len(sides)]:
                    rates[impl].append(measure(impl, shape, f"{impl}-{shape}-{r}"))
            mean = {k: sum(v) / len(v) for k, v in rates.items()}
            print(f"{shape}: raw psycopg {mean['raw']:.0f} entries/s  [rounds {_runs(rates['raw'])}]")
            for impl, label in LABELS.items():
                ratio = mean[impl] / mean["raw"]
                verdicts[impl].append(ratio >= target)
                print(
                    f"  {label:<38} {mean[impl]:5.0f} entries/s = {ratio:.2f}x"
                    f" (target >= {target}x: {'met' if ratio >= target else 'NOT met'})"
                    f"  [rounds {_runs(rates[impl])}]"
                )
    finally:
        for q in queues:
            q.put(None)
        for p in procs:
            p.join(30)
    with session_scope() as s:
        report = ledger.verify(s)
    print(f"ledger verify: {'OK' if report.ok else 'FAILED'} ({report.users_checked} users)")
    for impl, label in LABELS.items():
        met = all(verdicts[impl]) and report.ok
        print(f"targets with {label}: {'all met' if met else 'NOT all met'}")


def _runs(xs: list[float]) -> str:
    return ", ".join(f"{x:.0f}" for x in xs)


if __name__ == "__main__":
    main()
