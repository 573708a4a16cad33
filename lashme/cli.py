"""Operator commands: ``lashme <command> [...]`` (console script) or ``python -m lashme.cli``.

Each command is a small function over the core; exit code 0 means success,
non-zero means the command found a problem or failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from lashme.ops.db import get_engine

Handler = Callable[[argparse.Namespace], int]


def _migrate(args: argparse.Namespace) -> int:
    """Apply Alembic migrations up to head."""
    from alembic.config import Config

    from alembic import command

    command.upgrade(Config("alembic.ini"), "head")
    return 0


def _ledger_verify(args: argparse.Namespace) -> int:
    """Check every balance against its ledger; print findings; 1 on any mismatch or orphaned hold."""
    from sqlmodel import Session

    from lashme.credits import ledger_check

    engine = get_engine()
    snapshot = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**snapshot) as conn, Session(bind=conn) as s:
        report = ledger_check.verify(s)
    for m in report.mismatches:
        print(
            f"MISMATCH user {m.user_id}: balance {m.balance} != ledger sum {m.ledger_sum}"
            f" or held {m.held} != held sum {m.held_sum}"
        )
    for o in report.orphan_holds:
        print(
            f"ORPHANED HOLD user {o.user_id}: {o.amount} credits held"
            f" for job {o.job_id} ({o.job_status or 'deleted'})"
        )
    verdict = "OK" if report.ok else "FAILED"
    print(
        f"ledger verify: {verdict} — {report.users_checked} users, {len(report.mismatches)} mismatches,"
        f" {len(report.orphan_holds)} orphaned holds"
    )
    return 0 if report.ok else 1


def _price_list(args: argparse.Namespace) -> int:
    """Print every price/limit and the credit packs."""
    from lashme.credits import pricing
    from lashme.ops.db import session_scope

    with session_scope() as s:
        prices = pricing.get_prices(s)
        for key, (_, meaning) in pricing.PRICE_KEYS.items():
            print(f"{key:18} {getattr(prices, key):>6}  {meaning}")
        for p in pricing.active_packs(s):
            price = pricing.format_money(p.price_cents, p.currency)
            print(f"pack {p.code:13} {p.credits:>6} credits  {price}{'  (popular)' if p.popular else ''}")
    return 0


def _price_set(args: argparse.Namespace) -> int:
    """Set one price/limit (``lashme price set generation_cost 1``)."""
    from lashme.credits import pricing
    from lashme.ops.db import session_scope

    try:
        with session_scope() as s:
            before = pricing.set_price(s, args.key, args.value, actor="cli")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.key}: {before} -> {args.value}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """Re-enqueue lost jobs and recover abandoned ones: once, or every ``--interval`` s with ``--loop``."""
    from lashme.jobs import sweeper

    if args.loop:
        import signal
        import threading

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        sweeper.run_forever(interval=args.interval, stop=stop)
        return 0
    print(json.dumps(sweeper.sweep().as_dict()))
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    """Delete jobs past retention (storage objects first, then rows); exit 1 if some could not be deleted."""
    from lashme.jobs import retention

    report = retention.cleanup(dry_run=args.dry_run)
    print(json.dumps(report.as_dict()))
    for err in report.errors:
        print(err, file=sys.stderr)
    return 1 if report.errors else 0


def _stats(args: argparse.Namespace) -> int:
    """Print stored objects, bytes and jobs by status and age as JSON."""
    from lashme.jobs import retention

    print(json.dumps(retention.stats(), indent=2))
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    """Make an existing account a super admin (the first one; later ones are granted in /admin)."""
    from lashme.accounts import roles
    from lashme.errors import DomainError
    from lashme.ops.db import session_scope

    try:
        with session_scope() as s:
            user, granted = roles.bootstrap_super_admin(s, args.email)
            email = user.email
    except (LookupError, DomainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{email} is {'now' if granted else 'already'} a super admin")
    return 0


def _api_token(args: argparse.Namespace) -> int:
    """Create a personal access token for an existing account and print it (shown once)."""
    from lashme.app import api_tokens
    from lashme.errors import DomainError

    try:
        token = api_tokens.issue_for_email(args.email, name=args.name, write=args.write)
    except (LookupError, DomainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token.secret)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per operator task."""
    parser = argparse.ArgumentParser(prog="lashme", description="LashMe operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(handler=_migrate)
    ledger_cmd = sub.add_parser("ledger", help="credit ledger tools")
    ledger_sub = ledger_cmd.add_subparsers(dest="ledger_command", required=True)
    p = ledger_sub.add_parser("verify", help="balances equal the sums of entries; no orphaned holds")
    p.set_defaults(handler=_ledger_verify)
    price_cmd = sub.add_parser("price", help="prices, daily limits and credit packs")
    price_sub = price_cmd.add_subparsers(dest="price_command", required=True)
    price_sub.add_parser("list", help="show prices, limits and packs").set_defaults(handler=_price_list)
    p = price_sub.add_parser("set", help="set a price or limit")
    p.add_argument("key")
    p.add_argument("value", type=int)
    p.set_defaults(handler=_price_set)
    p = sub.add_parser("sweep", help="re-enqueue lost jobs, recover jobs of dead workers")
    p.add_argument("--loop", action="store_true", help="keep sweeping every --interval seconds")
    p.add_argument("--interval", type=float, default=None, help="seconds between sweeps")
    p.set_defaults(handler=_sweep)
    p = sub.add_parser("cleanup", help="delete jobs and files past their retention")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(handler=_cleanup)
    p = sub.add_parser("create-admin", help="make an existing account a super admin")
    p.add_argument("email")
    p.set_defaults(handler=_create_admin)
    p = sub.add_parser("api-token", help="create a REST API token for an account (printed once)")
    p.add_argument("email")
    p.add_argument("--name", default="cli", help="a label for the token")
    p.add_argument("--write", action="store_true", help="allow uploads, unlocks and deletes, not only reads")
    p.set_defaults(handler=_api_token)
    p = sub.add_parser("stats", help="stored objects and bytes, jobs by status and age")
    p.set_defaults(handler=_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    from lashme.ops.logging_setup import configure

    configure(args.command)
    get_engine()  # fail early with a clear error when the database is unreachable
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
