"""Test environment: a private data folder, database and Redis for this run.

Set before any ``lashme`` module reads its settings, and inherited by the
worker and app processes the integration and e2e tests start:

- ``LASHME_DATA_DIR``: a fresh temp folder (local storage, secret key).
- ``DATABASE_URL``: a fresh PostgreSQL database ``lashme_test_<random>`` when
  127.0.0.1:5432 answers (dropped at the end), else a SQLite file.
  ``LASHME_TEST_DB=sqlite`` forces SQLite.
- ``REDIS_URL``: a redis-server started for this run only, so tests never
  share Redis state with a developer's running app.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

_run: dict = {}

# Cheap password hashes in tests (the app's own processes inherit them); production keeps argon2's
# defaults. Set here, at import, not in pytest_configure: ``lashme.accounts.auth`` reads them when it
# is imported, and a conftest below this one (tests/integration/conftest.py, loaded before
# pytest_configure when a run names a folder under tests/) imports it: set late, every sign-up
# hashed at t=3, 64 MiB (about 1 s on a loaded 2-core machine).
os.environ.setdefault("LASHME_ARGON2_TIME_COST", "1")
os.environ.setdefault("LASHME_ARGON2_MEMORY_KIB", "1024")


def _postgres_admin_url() -> str | None:
    if os.environ.get("LASHME_TEST_DB", "").lower() == "sqlite":
        return None
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2"):
            return "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    except Exception:  # noqa: BLE001 - no Postgres here: SQLite it is
        return None


UNIT_DIR = Path(__file__).resolve().parent / "unit"
#: an address nothing listens on: a unit test that reaches for Redis fails at once
NO_REDIS = "redis://127.0.0.1:9/0"


def _unit_only(config) -> bool:
    """True when every path on the command line is inside ``tests/unit`` (no servers needed)."""
    paths = [Path(str(a).split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return all(p == UNIT_DIR or UNIT_DIR in p.parents for p in paths)


def pytest_configure(config):
    if os.environ.get("LASHME_TEST_CHILD"):
        return
    tmp = Path(tempfile.mkdtemp(prefix="lashme-test-"))
    _run["tmp"] = tmp
    os.environ["LASHME_DATA_DIR"] = str(tmp / "data")
    os.environ["LASHME_SECRET_KEY"] = secrets.token_urlsafe(32)
    os.environ.pop("FAL_KEY", None)
    if _unit_only(config):  # the unit layer: pure functions, no database server, no Redis
        _run["tmp"] = tmp
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'unit.db'}"
        os.environ["REDIS_URL"] = NO_REDIS
        os.environ["LASHME_TEST_CHILD"] = "1"
        return
    admin = _postgres_admin_url()
    if admin:
        import psycopg

        name = f"lashme_test_{secrets.token_hex(4)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        _run["pg"] = (admin, name)
        os.environ["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'test.db'}"
    from lashme.ops.redis_server import start_redis

    _run["redis"] = start_redis(tmp / "redis")
    os.environ["REDIS_URL"] = _run["redis"].url
    os.environ["LASHME_TEST_CHILD"] = "1"
    from lashme.ops.launcher import migrate

    migrate(dict(os.environ))
    _snapshot_seeds()


def pytest_unconfigure(config):
    if "redis" in _run:
        _run["redis"].stop()
    from lashme.ops.db import get_engine

    get_engine().dispose()
    if "pg" in _run:
        import psycopg

        admin, name = _run["pg"]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if "tmp" in _run:
        shutil.rmtree(_run["tmp"], ignore_errors=True)


def pytest_report_header(config):
    return f"lashme: DATABASE_URL={os.environ.get('DATABASE_URL')} REDIS_URL={os.environ.get('REDIS_URL')}"


#: tables whose rows the migrations seed (prices, packs): restored after each wipe
SEEDED_TABLES = ("price_settings", "credit_packs", "preset_versions")
_seeds: dict = {}


def _snapshot_seeds():
    """Remember the migration-seeded rows right after migrating, before any test changes them."""
    from sqlmodel import SQLModel

    import lashme.models  # noqa: F401
    from lashme.ops.db import get_engine

    with get_engine().begin() as conn:
        for name in SEEDED_TABLES:
            _seeds[name] = [dict(r._mapping) for r in conn.execute(SQLModel.metadata.tables[name].select())]


@pytest.fixture
def clean_db():
    """Empty every table before the test (the schema stays migrated, seeded rows are restored).

    Also forgets the daily-limit and throttle counters in the run's Redis.
    """
    from sqlmodel import SQLModel

    import lashme.models  # noqa: F401
    from lashme.jobs.queue import get_redis
    from lashme.ops.db import get_engine

    tables = SQLModel.metadata.tables
    with get_engine().begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())
        for name in SEEDED_TABLES:
            if _seeds[name]:
                conn.execute(tables[name].insert(), _seeds[name])
    r = get_redis()
    for pattern in ("*lashme-daily-jobs*", "*lashme-throttle*"):
        for key in r.scan_iter(match=pattern):
            r.delete(key)
    yield get_engine()


@pytest.fixture
def storage():
    """The configured local storage (under the run's data folder)."""
    from lashme.files.storage import get_storage

    return get_storage()


@pytest.fixture
def redis_conn():
    """The run's Redis, flushed before the test."""
    from lashme.jobs.queue import get_redis

    r = get_redis()
    r.flushdb()
    return r
