"""Fixtures shared by the handler tests: two users, one finished job each way."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from lashme.accounts import auth
from lashme.jobs import uploads
from lashme.jobs.generation import run as run_job
from lashme.jobs.lifecycle import variants_of
from lashme.ops.db import session_scope
from tests.photos import chelsea_jpeg


def _user(email):
    with session_scope() as s:
        user = auth.sign_up(s, email=email, password="Secret123", signup_bonus=3)
        return user.id, auth.start_session(s, user_id=user.id)


@pytest.fixture
def world(clean_db, redis_conn, storage):
    """Alice (with a DONE job of 4 variants and an anonymous job from her browser) and Bob.

    Built once per run (two sign-ups, two generation runs: most of a handler test's time),
    then replayed for every later test: the same rows (timestamps moved forward by the time
    passed, so the world is as old as when first built), the same files under the two jobs'
    storage prefixes (exactly those files: what an earlier test added there is removed) and
    the same Redis counters. Built afresh when the day changed (the daily counters are per
    day) or the storage is not the local folder it was.
    """
    if not _replay_world(storage, redis_conn):
        _WORLD.clear()
        snap = _Snapshot(storage, redis_conn)
        built = _build_world()
        _WORLD.update(snap.taken(built))
    return copy.deepcopy(_WORLD["value"])  # a test may change its copy


#: the recorded world: ``value`` (what ``world`` returns), ``rows``, ``files``, ``redis``, ``at``, ``root``
_WORLD: dict = {}


class _Snapshot:
    """Records what building the world adds: rows of every table, files, Redis keys."""

    def __init__(self, storage, redis_conn):
        self.storage, self.redis = storage, redis_conn
        self.keys_before = set(redis_conn.keys("*"))

    def taken(self, value: dict) -> dict:
        from sqlmodel import SQLModel

        from lashme.models import utcnow
        from lashme.ops.db import get_engine

        at = utcnow()
        with get_engine().begin() as conn:
            rows = {
                t.name: [dict(r._mapping) for r in conn.execute(t.select())]
                for t in SQLModel.metadata.sorted_tables
            }
        root = self.storage.root
        prefixes = sorted({p.parent.relative_to(root) for p in root.glob("*/*/original.jpg")})
        prefixes = [p for p in prefixes if p.name in (value["job"], value["anon_job"])]
        files = {
            str(f.relative_to(root)): f.read_bytes()
            for p in prefixes
            for f in (root / p).rglob("*")
            if f.is_file()
        }
        keys = set(self.redis.keys("*")) - self.keys_before
        redis = {k: (self.redis.dump(k), max(self.redis.pttl(k), 0)) for k in keys}
        return {
            "value": value,
            "rows": rows,
            "files": files,
            "prefixes": [str(p) for p in prefixes],
            "redis": redis,
            "at": at,
            "root": root,
        }


def _build_world() -> dict:
    """Sign up Alice and Bob and run Alice's job and her browser's anonymous job (see ``world``)."""
    alice, alice_token = _user("alice@example.com")
    _, bob_token = _user("bob@example.com")
    job = uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    run_job(job.id)
    anon_job = uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token="alice-browser", enqueue=False)
    run_job(anon_job.id)
    with session_scope() as s:
        vids = [v.id for v in variants_of(s, job.id)]
    return {
        "alice": alice,
        "alice_token": alice_token,
        "bob_token": bob_token,
        "job": job.id,
        "vids": vids,
        "anon_job": anon_job.id,
    }


def _replay_world(storage, redis_conn) -> bool:
    """Put the recorded world back into the emptied database, storage and Redis; False when it can't be."""
    import shutil

    from sqlmodel import SQLModel

    from lashme.files.storage import LocalStorage
    from lashme.models import utcnow
    from lashme.ops.db import get_engine
    from tests.conftest import SEEDED_TABLES, _seeds

    now = utcnow()
    if not _WORLD or not isinstance(storage, LocalStorage) or storage.root != _WORLD["root"]:
        return False
    if now.date() != _WORLD["at"].date():
        return False
    shift = now - _WORLD["at"]

    def moved(row: dict) -> dict:
        return {k: (v + shift if isinstance(v, datetime) else v) for k, v in row.items()}

    with get_engine().begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = _WORLD["rows"].get(table.name, [])
            if table.name in SEEDED_TABLES:
                if rows == _seeds[table.name]:
                    continue  # clean_db put these back already
                conn.execute(table.delete())
            if rows:
                conn.execute(table.insert(), [moved(r) for r in rows])
    root = storage.root
    for prefix in _WORLD["prefixes"]:
        shutil.rmtree(root / prefix, ignore_errors=True)
    for rel, data in _WORLD["files"].items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    for key, (data, ttl) in _WORLD["redis"].items():
        redis_conn.restore(key, ttl, data, replace=True)
    return True


@pytest.fixture
def staff(world):
    """``world`` plus Ada (``admin``) and Sam (``super_admin``), each signed in.

    Keys added: ``admin``/``admin_token`` and ``super``/``super_token``.
    """
    from lashme.accounts import roles
    from lashme.models import Role

    admin, admin_token = _user("ada@staff.example.com")
    sup, super_token = _user("sam@staff.example.com")
    with session_scope() as s:
        roles.add_role(s, admin, Role.ADMIN, granted_by="test")
        roles.add_role(s, sup, Role.SUPER_ADMIN, granted_by="test")
    return {**world, "admin": admin, "admin_token": admin_token, "super": sup, "super_token": super_token}
