"""Fixtures shared by the handler tests: two users, one finished job each way."""

from __future__ import annotations

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
def world(clean_db, redis_conn):
    """Alice (with a DONE job of 4 variants and an anonymous job from her browser) and Bob."""
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
