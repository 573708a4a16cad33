"""How long the admin stats page's query takes (``lashme.app.admin.stats.daily_stats``) as jobs pile up.

Creates a scratch PostgreSQL database on 127.0.0.1:5432 (dropped at the
end), migrates it, inserts ``--jobs`` finished jobs spread over the last 90
days (70 % DONE with 2–40 s generation times, 20 % FAILED, 10 % CANCELED),
one unlock per DONE job and one paid order per 20 jobs, then times
``daily_stats`` for 7, 30 and 90 days (median of ``--repeat`` runs) and prints
the figures with the 90-day totals.

Usage: ``python benchmarks/bench_admin_stats.py [--jobs 50000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def main() -> None:
    """Create a scratch database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
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


def _seed(n_jobs: int) -> int:
    """Insert the dataset; returns the admin's user id."""
    from lashme.accounts import auth, roles
    from lashme.models import Job, JobStatus, Order, OrderStatus, Role, Unlock, new_id
    from lashme.ops.db import session_scope

    rng = random.Random(7)
    now = datetime.now(UTC)
    with session_scope() as s:
        admin = auth.sign_up(s, email="admin@bench.example.com", password="Secret123", signup_bonus=0)
        master = auth.sign_up(s, email="master@bench.example.com", password="Secret123", signup_bonus=0)
        roles.add_role(s, admin.id, Role.ADMIN, granted_by="bench")
        admin_id, master_id = admin.id, master.id
    batch = 5_000
    for start in range(0, n_jobs, batch):
        jobs, unlocks, orders = [], [], []
        for i in range(start, min(start + batch, n_jobs)):
            created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            roll = rng.random()
            status = JobStatus.DONE if roll < 0.7 else JobStatus.FAILED if roll < 0.9 else JobStatus.CANCELED
            started = created + timedelta(seconds=rng.uniform(0.1, 5))
            finished = started + timedelta(seconds=rng.uniform(2, 40))
            jid = new_id()
            jobs.append(
                Job(
                    id=jid,
                    user_id=master_id,
                    status=status,
                    provider="studio",
                    presets=["natural", "warm_glow", "crisp_detail", "soft_focus"],
                    original_key=f"bench/{jid}/original.jpg",
                    original_width=1024,
                    original_height=1024,
                    created_at=created,
                    started_at=started,
                    finished_at=finished,
                    provider_cost_usd=0.12 if rng.random() < 0.3 else None,
                )
            )
            if status == JobStatus.DONE:
                unlocks.append(Unlock(user_id=master_id, variant_id=new_id(), created_at=finished))
            if i % 20 == 0:
                orders.append(
                    Order(
                        user_id=master_id,
                        pack_code="p10",
                        credits=10,
                        amount_cents=500,
                        currency="usd",
                        status=OrderStatus.PAID,
                        credited_at=created,
                        created_at=created,
                    )
                )
        with session_scope() as s:
            s.add_all(jobs)
            s.flush()
            s.add_all(unlocks + orders)
    return admin_id


def run(args: argparse.Namespace) -> None:
    """Migrate, seed, time, print."""
    from alembic.config import Config

    from alembic import command
    from lashme.app.admin import stats
    from lashme.ops.db import session_scope

    command.upgrade(Config(str(Path(__file__).resolve().parents[1] / "alembic.ini")), "head")
    t0 = time.perf_counter()
    admin_id = _seed(args.jobs)
    print(f"seeded {args.jobs} jobs in {time.perf_counter() - t0:.1f} s")
    for days in (7, 30, 90):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            with session_scope() as s:
                report = stats.daily_stats(s, admin_id, days)
            times.append(time.perf_counter() - t)
        print(
            f"daily_stats({days:>2} days): median {statistics.median(times) * 1000:7.1f} ms over {args.repeat} runs"
        )
    t = report.totals
    print(
        f"90-day totals: jobs {t.jobs}, done {t.done}, failed {t.failed}, success {t.success_rate}, "
        f"p50 {t.p50_s} s, p95 {t.p95_s} s, unlocks {t.unlocks}, credits sold {t.credits_sold}, revenue {t.revenue}"
    )


if __name__ == "__main__":
    main()
