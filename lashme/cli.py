"""Operator commands: ``lashme <command> [...]`` (console script) or ``python -m lashme.cli``.

Each command is a small function over the core; exit code 0 means success,
non-zero means the command found a problem or failed.
"""

from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per operator task."""
    parser = argparse.ArgumentParser(prog="lashme", description="LashMe operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    get_engine()  # fail early with a clear error when the database is unreachable
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
