"""Accept an uploaded photo: validate by decoding, check limits and credits, store a clean copy, queue a job.

Order of checks: the bytes (cheapest to reject), then whether any preset is
switched on, the balance and whether today's jobs are used up (read only:
nothing counted, nothing stored yet), then the job row, its reservation (for a
priced generation) and the count against today's limit, all in one
transaction: the job is counted once it and its reservation are written, so a
refused reservation (a race lost to another spend) or a refused count (a race
lost to a parallel upload) leaves no job, no hold and no count behind; today's
limit is used exactly once per job created.  The job runs the provider's
active presets and pins their version ids at creation, so later edits of a
preset never change a job that was already accepted (nor its retries).

Redis outage (the job row in the database is the source of truth):

- the daily limit is counted in Redis; when Redis does not answer, today's
  jobs are counted in the database instead (per account, or per browser for
  visitors: the per-IP count lives only in Redis), so the limit still holds,
  a little less tightly (parallel uploads during the outage may slip by one);
- when the enqueue fails the upload is still accepted: the job stays PENDING
  with a ``queue_deferred`` event and the sweeper (:mod:`lashme.jobs.sweeper`)
  enqueues it once Redis answers again and the job is older than
  ``LASHME_SWEEP_GRACE``.  :func:`queue_deferred` tells the caller, which shows
  ``security.upload_queued_soon`` ("queued, starting soon").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lashme.accounts import auth, daily_limits
from lashme.credits import ledger, pricing
from lashme.errors import AuthError, InsufficientCredits
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import job_prefix, original_key
from lashme.images import originals
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.jobs.generation import fail
from lashme.models import Job, JobEvent, User, new_id
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.providers.registry import presets_for

log = logging.getLogger(__name__)
#: job event kind written when the upload was accepted but Redis refused the enqueue
QUEUE_DEFERRED = "queue_deferred"


def _refuse_if_used_up(
    *, user_id: int | None, anon_token: str | None, client_ip: str | None, limit: int, ip_limit: int
) -> bool:
    """Refuse early, before anything is stored, when today's jobs are already used up; counts nothing.

    Only a shortcut: the count in the job's transaction (:func:`_consume_daily`) decides, so a
    Redis outage skips this check.

    Returns:
        True when Redis answered; False during an outage (the count then goes to the database at once).

    Raises:
        DailyLimitReached: today's jobs are used up (the limit of the counter that ran out).
    """
    try:
        used = daily_limits.usage(
            user_id=user_id, anon_token=anon_token, client_ip=client_ip, limit=limit, ip_limit=ip_limit
        )
    except RedisError:
        return False
    if limit <= 0 or used.used >= used.limit:
        raise daily_limits.refusal(used.limit, used.reset_at)
    return True


def _consume_daily(
    session: Session,
    *,
    user_id: int | None,
    anon_token: str | None,
    client_ip: str | None,
    limit: int,
    ip_limit: int | None = None,
    redis: bool = True,
) -> None:
    """Count the job just written in ``session`` against today's limit (Redis, or the database).

    Called inside the job's transaction, after its row and reservation: a refusal raised here
    rolls them back.  While Redis does not answer (or ``redis`` is False: it did not answer a
    moment ago), today's jobs of the owner are counted in ``session``, the new one included
    (per account, or per browser for visitors: the per-IP count lives only in Redis).

    Raises:
        DailyLimitReached: today's jobs are used up; nothing is counted.
    """
    try:
        if redis:
            daily_limits.consume(
                user_id=user_id, anon_token=anon_token, client_ip=client_ip, limit=limit, ip_limit=ip_limit
            )
            return
        log.warning("daily limit: Redis unavailable, counting in the database")
    except RedisError as exc:
        log.warning("daily limit: Redis unavailable (%s), counting in the database", type(exc).__name__)
    midnight = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    if user_id is not None:
        owner = Job.user_id == user_id
    else:
        owner = Job.anon_token_hash == auth.token_hash(anon_token or "")
    session.flush()
    used = session.scalar(select(func.count()).select_from(Job).where(owner, Job.created_at >= midnight)) or 0
    if limit <= 0 or used - 1 >= limit:  # ``used`` includes the job being created
        raise daily_limits.refusal(limit)


def queue_deferred(job_id: str, *, engine: Engine | None = None) -> bool:
    """True when the upload of ``job_id`` was accepted while the queue (Redis) was down.

    The job is PENDING and the sweeper queues it once Redis is back: the caller
    should say so (``security.upload_queued_soon``).
    """
    with session_scope(engine) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.kind == QUEUE_DEFERRED)
            )
            or 0
        ) > 0


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
    (no GPS): a clean JPEG keeps its own compressed data, anything else is
    re-encoded (``lashme.images.originals.prepare_original``).  Nothing is stored
    when validation, the daily limit or the credit reservation refuses the job,
    and today's limit is counted once per job created (in the job's transaction).

    Args:
        data: the uploaded bytes, untrusted.
        user_id: the signed-in owner, or None for a visitor.
        anon_token: the visitor's browser token (ignored for users).
        engine: database engine (default: the configured one).
        storage: storage backend (default: the configured one).
        enqueue: put the job on the RQ queue (tests may run it directly).
        client_ip: the caller's IP, counted for visitors' daily limit.

    Raises:
        UploadRejected: the bytes are not an acceptable photo
            (see ``lashme.images.validation.validate_upload``).
        DailyLimitReached: today's jobs are used up (``limits.daily_reached``); nothing is counted.
        InsufficientCredits: ``credits.insufficient_generation`` when a generation
            price is set and the available balance is short.
        AuthError: ``auth.blocked`` when ``user_id`` is a blocked account.
        NoActivePresets: ``generation.no_active_presets``: an admin switched every preset off.
        ValueError: no owner.
    """
    s = get_settings()
    original = originals.prepare_original(  # a clean upload keeps its own JPEG data, metadata dropped
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
    daily = {
        "user_id": user_id,
        "anon_token": anon_token,
        "client_ip": client_ip,
        "limit": prices.daily_limit_user if user_id is not None else prices.daily_limit_anon,
        "ip_limit": prices.daily_limit_anon_ip,
    }
    redis_answered = _refuse_if_used_up(**daily)  # before storing anything; counts nothing
    storage = storage or get_storage()
    job_id = new_id()
    prefix = job_prefix(job_id, user_id)
    key = original_key(prefix)
    storage.put(key, original.data)
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
                width=original.width,
                height=original.height,
                reserve_credits=cost,
            )
            job.preset_version_ids = [v.id for v in versions]
            session.add(job)
            # counted once this transaction holds the job and its reservation: a refused
            # reservation raised above counted nothing, and a refused count rolls both back
            _consume_daily(session, redis=redis_answered, **daily)
    except InsufficientCredits as exc:  # lost a race with another spend: nothing may stay behind
        storage.delete_prefix(prefix)
        raise InsufficientCredits("credits.insufficient_generation", cost=cost) from exc
    except Exception:
        storage.delete_prefix(prefix)  # no job row points at the original: remove it
        raise
    if enqueue:
        try:
            queue.enqueue_generation(job.id)
        except RedisError as exc:  # Redis down: the row is the truth, the sweeper enqueues it later
            log.warning("enqueue of job %s deferred: %s", job.id, type(exc).__name__)
            with session_scope(engine) as session:
                jobs.add_event(
                    session,
                    job.id,
                    kind=QUEUE_DEFERRED,
                    message="queue unavailable; the sweeper will enqueue the job",
                    data={"error": type(exc).__name__},
                )
        except Exception as exc:  # noqa: BLE001 - anything else: the job must not hang
            log.exception("enqueue failed for job %s", job.id)
            fail(job.id, error_key="generation.queue_unavailable", detail=str(exc), engine=engine)
            with session_scope(engine) as session:
                job = session.get(Job, job.id)
    return job
