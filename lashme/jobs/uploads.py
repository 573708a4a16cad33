"""Accept an uploaded photo: validate by decoding, check limits and credits, store a clean copy, queue a job.

Order of checks: the bytes (cheapest to reject), then whether any preset is
switched on, then today's job limit, then (for a priced generation) the
reservation, which is written in the same transaction as the job row, so a
refused reservation leaves no job behind.  The job runs the provider's
active presets and pins their version ids at creation, so later edits of a
preset never change a job that was already accepted (nor its retries).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.accounts import daily_limits
from lashme.credits import ledger, pricing
from lashme.errors import AuthError, InsufficientCredits
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import job_prefix, original_key
from lashme.images import imaging
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.jobs.generation import fail
from lashme.models import Job, User, new_id
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.providers.registry import presets_for

log = logging.getLogger(__name__)


def submit_photo(
    data: bytes,
    *,
    user_id: int | None,
    anon_token: str | None,
    engine: Engine | None = None,
    storage: Storage | None = None,
    enqueue: bool = True,
    client_ip: str | None = None,
) -> Job:
    """Validate ``data``, store the re-encoded original, insert a PENDING job and queue it.

    The stored original has EXIF orientation applied and no metadata at all
    (no GPS).  Nothing is stored when validation, the daily limit or the
    credit reservation refuses the job.

    Args:
        data: the uploaded bytes, untrusted.
        user_id: the signed-in owner, or None for a visitor.
        anon_token: the visitor's browser token (ignored for users).
        engine: database engine (default: the configured one).
        storage: storage backend (default: the configured one).
        enqueue: put the job on the RQ queue (tests may run it directly).
        client_ip: the caller's IP, counted for visitors' daily limit.

    Raises:
        UploadRejected: the bytes are not an acceptable photo (see ``imaging.validate_upload``).
        DailyLimitReached: today's jobs are used up (``limits.daily_reached``).
        InsufficientCredits: ``credits.insufficient_generation`` when a generation
            price is set and the available balance is short.
        AuthError: ``auth.blocked`` when ``user_id`` is a blocked account.
        NoActivePresets: ``generation.no_active_presets``: an admin switched every preset off.
        ValueError: no owner.
    """
    s = get_settings()
    img = imaging.validate_upload(
        data, max_bytes=s.max_upload_bytes, max_pixels=s.max_upload_pixels, min_side=s.min_upload_side
    )
    if user_id is None and not anon_token:
        raise ValueError("a job needs an owner")
    provider = s.provider_name
    with session_scope(engine) as session:
        if user_id is not None and session.scalar(select(User.is_blocked).where(User.id == user_id)):
            raise AuthError("auth.blocked")
        presets_for(session, provider)  # refuse before counting the job or storing anything
        prices = pricing.get_prices(session)
        cost = prices.generation_cost if user_id is not None else 0
        if cost and ledger.get_balance(session, user_id).available < cost:
            raise InsufficientCredits("credits.insufficient_generation", cost=cost)
    daily_limits.consume(
        user_id=user_id,
        anon_token=anon_token,
        client_ip=client_ip,
        limit=prices.daily_limit_user if user_id is not None else prices.daily_limit_anon,
    )
    storage = storage or get_storage()
    job_id = new_id()
    prefix = job_prefix(job_id, user_id)
    key = original_key(prefix)
    storage.put(key, imaging.encode_jpeg(img, quality=95))
    try:
        with session_scope(engine) as session:
            versions = presets_for(session, provider)
            job = jobs.create_job(
                session,
                job_id=job_id,
                user_id=user_id,
                anon_token=anon_token,
                provider=provider,
                presets=[v.name for v in versions],
                original_key=key,
                width=img.width,
                height=img.height,
                reserve_credits=cost,
            )
            job.preset_version_ids = [v.id for v in versions]
            session.add(job)
    except InsufficientCredits as exc:  # lost a race with another spend: nothing may stay behind
        storage.delete_prefix(prefix)
        raise InsufficientCredits("credits.insufficient_generation", cost=cost) from exc
    except Exception:
        storage.delete_prefix(prefix)  # no job row points at the original: remove it
        raise
    if enqueue:
        try:
            queue.enqueue_generation(job.id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the job must not hang
            log.exception("enqueue failed for job %s", job.id)
            fail(job.id, error_key="generation.queue_unavailable", detail=str(exc), engine=engine)
            with session_scope(engine) as session:
                job = session.get(Job, job.id)
    return job
