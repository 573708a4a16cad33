"""Operator commands: ``lashme <command> [...]`` (console script) or ``python -m lashme.cli``.

Each command is a small function over the core; exit code 0 means success,
non-zero means the command found a problem or failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from lashme.db import get_engine

Handler = Callable[[argparse.Namespace], int]


def _migrate(args: argparse.Namespace) -> int:
    """Apply Alembic migrations up to head."""
    from alembic.config import Config

    from alembic import command

    command.upgrade(Config("alembic.ini"), "head")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """Re-enqueue lost jobs and recover abandoned ones: once, or every ``--interval`` s with ``--loop``."""
    from lashme import sweeper

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
    from lashme import retention

    report = retention.cleanup(dry_run=args.dry_run)
    print(json.dumps(report.as_dict()))
    for err in report.errors:
        print(err, file=sys.stderr)
    return 1 if report.errors else 0


def _stats(args: argparse.Namespace) -> int:
    """Print stored objects, bytes and jobs by status and age as JSON."""
    from lashme import retention

    print(json.dumps(retention.stats(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per operator task."""
    parser = argparse.ArgumentParser(prog="lashme", description="LashMe operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(handler=_migrate)
    p = sub.add_parser("sweep", help="re-enqueue lost jobs, recover jobs of dead workers")
    p.add_argument("--loop", action="store_true", help="keep sweeping every --interval seconds")
    p.add_argument("--interval", type=float, default=None, help="seconds between sweeps")
    p.set_defaults(handler=_sweep)
    p = sub.add_parser("cleanup", help="delete jobs and files past their retention")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(handler=_cleanup)
    p = sub.add_parser("stats", help="stored objects and bytes, jobs by status and age")
    p.set_defaults(handler=_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    from lashme.logging_setup import configure

    configure(args.command)
    get_engine()  # fail early with a clear error when the database is unreachable
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
