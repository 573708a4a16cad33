"""The job page: a job's status and its variants, cancel, retry, and waiting for the next change.

Ownership: a signed-in user sees their own jobs; a visitor (and a user's
browser) sees the anonymous jobs made with its visitor token.  Anything
else is :class:`~lashme.errors.NotFound` (``job.not_found``), exactly like a
missing id.  Only previews and thumbnails (watermarked, low resolution) get
URLs here; full-resolution files are reached through
:func:`lashme.app.variant.download_link` after the unlock check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError
from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from lashme import i18n
from lashme.accounts import daily_limits
from lashme.app.caller import Caller
from lashme.credits import pricing, unlocks
from lashme.errors import DomainError
from lashme.files.storage import Storage, StorageError, get_storage
from lashme.jobs import cancel as cancels
from lashme.jobs import fullres, queue, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import FINAL_JOB_STATUSES, Job, JobEvent, JobStatus, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

#: how many times the owner may send one failed job back to the queue
MAX_USER_RETRIES = 3
#: the job event message of an owner's retry (counted for :data:`MAX_USER_RETRIES`)
RETRY_MESSAGE = "retried by owner"
#: the message of an owner's retry that was free (failed on our side); also counted
FREE_RETRY_MESSAGE = "retried by owner (free)"
#: failure reasons (``Job.error_key``) on our side: provider or worker trouble, storage, queue,
#: timeouts.  The owner's retry of such a job is free: no daily-limit count, no reservation, and
#: the job is never charged afterwards (its ``reserved_credits`` becomes 0).
FREE_RETRY_REASONS = frozenset(
    {
        "generation.failed",
        "generation.timeout",
        "generation.timed_out",
        "generation.interrupted",
        "generation.storage_failed",
        "generation.queue_unavailable",
        "generation.bad_output",
    }
)
#: failure reasons a retry cannot fix (the uploaded photo is gone): no retry is offered
NO_RETRY_REASONS = frozenset({"generation.original_missing"})
#: job event kind on a CANCELED job its owner started again as a new job (data: ``{"job_id": new}``)
RESTARTED_EVENT = "restarted"
#: ``Job.error_detail`` of a CANCELED job while its owner's "start again" is under way: the claim,
#: taken by one conditional UPDATE of the job row, so of two quick taps (two tabs, the API) exactly
#: one makes a new job.  A CANCELED job's ``error_detail`` is otherwise always empty (only FAILED
#: sets it, and FAILED never becomes CANCELED); a finished restart leaves ``started again as <id>``.
RESTART_CLAIM = "restart claimed"
#: a claim older than this (its process died before the new job was recorded) may be taken again
RESTART_CLAIM_TTL = timedelta(minutes=5)


#: full-resolution states in which a render is still coming (watchers keep watching)
RENDERING_STATES = frozenset({fullres.PENDING, fullres.RENDERING})


def is_final(status: str) -> bool:
    """True for DONE, FAILED and CANCELED (the job will not change any more)."""
    return status in FINAL_JOB_STATUSES


@dataclass(frozen=True)
class VariantTile:
    """One result on the job page.

    Attributes:
        id: variant id.
        index: 0..3, the order on the page.
        preset: preset code (``natural``, ``warm_glow`` …).
        label_key: catalog key of the preset's name (``preset.natural``).
        filtered: held back by the safety filter (no picture).
        preview_url: signed URL of the preview ("" when filtered): watermarked, or clean once
            unlocked by the caller (at once, while the full-size file renders: ``fullres``).
        thumb_url: signed URL of the thumbnail ("" when filtered), likewise.
        unlocked: the caller has unlocked its full resolution.
        fullres: the full-resolution render once unlocked (``pending``, ``rendering``, ``ready``,
            ``failed``), ``none`` while locked.
        altered: the fidelity guard found that this generative variant reshapes the work
            (lashes, nails): it is not offered for unlock (``fidelity.altered_note`` says why).
        fidelity_score: the guard's structural fidelity 0..1, None when not measured (studio).
        clean: the preview/thumbnail URLs are the clean (paid) files, not the watermarked ones.
    """

    id: str
    index: int
    preset: str
    label_key: str
    filtered: bool
    preview_url: str
    thumb_url: str
    unlocked: bool
    fullres: str = fullres.NONE
    altered: bool = False
    fidelity_score: float | None = None
    clean: bool = False


@dataclass(frozen=True)
class JobView:
    """What the job page shows.

    Attributes:
        id: job id.
        status: ``PENDING`` | ``PROCESSING`` | ``DONE`` | ``FAILED`` | ``CANCELED``.
        created_at: when it was uploaded (aware UTC).
        position: 1-based queue position while PENDING (0 = unknown).
        error_key: catalog key of why it FAILED ("" otherwise).
        variants: the results once DONE, in page order.
        can_retry: the signed-in owner may run it again (:func:`retry_offer`).
        retry_free: that retry is free (it failed on our side).
    """

    id: str
    status: str
    created_at: datetime
    position: int = 0
    error_key: str = ""
    variants: tuple[VariantTile, ...] = ()
    can_retry: bool = False
    retry_free: bool = False

    @property
    def final(self) -> bool:
        """True once the job's status will not change any more."""
        return is_final(self.status)

    @property
    def rendering(self) -> bool:
        """True while a full-resolution render of an unlocked variant is queued or running."""
        return any(v.fullres in RENDERING_STATES for v in self.variants)

    @property
    def all_altered(self) -> bool:
        """True when every variant with a picture was held back by the fidelity guard (none to offer)."""
        shown = [v for v in self.variants if not v.filtered]
        return bool(shown) and all(v.altered for v in shown)

    @property
    def settled(self) -> bool:
        """True when nothing on the page will change by itself (final, no render under way)."""
        return self.final and not self.rendering


def get(caller: Caller, job_id: str, *, storage: Storage | None = None) -> JobView:
    """The caller's view of ``job_id``.

    Raises:
        NotFound: ``job.not_found`` when the job is missing or not the caller's.
    """
    storage = storage or get_storage()
    ttl = get_settings().url_ttl
    job_id = str(job_id)[:32]
    with session_scope() as s:
        job = jobs.get_owned_job(s, job_id, user_id=caller.user_id, anon_token=caller.anon_token)
        status = JobStatus(job.status)
        error_key = i18n.error_key(job.error_key) if status == JobStatus.FAILED else ""
        variants = jobs.variants_of(s, job.id) if status == JobStatus.DONE else []
        owned = (
            unlocks.unlocked_ids(s, user_id=caller.user_id, variant_ids=[v.id for v in variants])
            if variants and caller.user_id is not None and job.user_id == caller.user_id
            else set()
        )
        created_at = job.created_at
        offer = (
            retry_offers(s, [job])[job.id]
            if caller.user_id is not None and job.user_id == caller.user_id
            else RetryOffer(False, False)
        )
    position = (queue.queue_position(job_id) or 0) if status == JobStatus.PENDING else 0
    tiles = tuple(_tile(v, v.id in owned, storage, ttl) for v in variants)
    return JobView(
        id=job_id,
        status=str(status),
        created_at=created_at,
        position=position,
        error_key=error_key,
        variants=tiles,
        can_retry=offer.allowed,
        retry_free=offer.free,
    )


def _tile(v, unlocked: bool, storage: Storage, ttl: int) -> VariantTile:
    keys = fullres.display_keys(v, unlocked=unlocked)

    def sign(key: str | None) -> str:
        return "" if v.filtered or not key else storage.url(key, expires_in=ttl)

    return VariantTile(
        id=v.id,
        index=v.index,
        preset=v.preset,
        label_key=f"preset.{v.preset}",
        filtered=v.filtered,
        preview_url=sign(keys.preview_key),
        thumb_url=sign(keys.thumb_key),
        unlocked=unlocked,
        fullres=fullres.status_of(v).state if unlocked else fullres.NONE,
        altered=bool(v.altered),
        fidelity_score=v.fidelity_score,
        clean=keys.clean and not v.filtered,
    )


def cancel(caller: Caller, job_id: str) -> JobView:
    """Cancel the caller's queued or running job; its reserved credits are released.

    Open provider requests are canceled too (a network call: run it off the event loop).

    Raises:
        NotFound: ``job.not_found``.
        DomainError: ``job.not_cancelable`` when it has already finished.
    """
    job_id = str(job_id)[:32]
    cancels.cancel_job(job_id, user_id=caller.user_id, anon_token=caller.anon_token)
    return get(caller, job_id)


@dataclass(frozen=True)
class RetryOffer:
    """Whether the owner may run a finished job again, and whether that is free.

    Attributes:
        allowed: FAILED (fewer than :data:`MAX_USER_RETRIES` retries, the photo still there) or
            CANCELED (not started again yet).
        free: FAILED for a reason in :data:`FREE_RETRY_REASONS` (our side).
    """

    allowed: bool
    free: bool


def failure_reason(error_key: str | None, events: Sequence[JobEvent]) -> str | None:
    """Why a job failed: ``Job.error_key``, else the message of the trail's last change to FAILED."""
    return error_key or next(
        (e.message for e in reversed(events) if e.kind == "status" and e.to_status == JobStatus.FAILED), None
    )


def retry_offer(status: str, error_key: str | None, events: Sequence[JobEvent]) -> RetryOffer:
    """Decide the retry from the job's status, failure reason and event trail.

    The reason is ``Job.error_key``, else the message of the trail's last change to FAILED
    (:func:`lashme.jobs.lifecycle.transition` writes the reason there).  Our side (free): a
    provider or worker error, storage, the queue, a timeout.  The user's side (a normal retry):
    the enhancer rejected the photo, the safety filter held back every result, an unknown reason.
    A CANCELED job (the user's own cancel) is never free.
    """
    if status == JobStatus.CANCELED:
        return RetryOffer(not any(e.kind == RESTARTED_EVENT for e in events), False)
    if status != JobStatus.FAILED:
        return RetryOffer(False, False)
    reason = failure_reason(error_key, events)
    retried = sum(1 for e in events if e.message in (RETRY_MESSAGE, FREE_RETRY_MESSAGE))
    if reason in NO_RETRY_REASONS or retried >= MAX_USER_RETRIES:
        return RetryOffer(False, reason in FREE_RETRY_REASONS)
    return RetryOffer(True, reason in FREE_RETRY_REASONS)


def retry_offers(session: Session, rows: Sequence[Job]) -> dict[str, RetryOffer]:
    """:func:`retry_offer` of each job in ``rows`` (one query for the trails of the finished ones)."""
    ids = [j.id for j in rows if j.status in (JobStatus.FAILED, JobStatus.CANCELED)]
    trails: dict[str, list[JobEvent]] = {}
    if ids:
        for e in session.execute(
            select(JobEvent).where(JobEvent.job_id.in_(ids)).order_by(JobEvent.id)
        ).scalars():
            trails.setdefault(e.job_id, []).append(e)
    return {j.id: retry_offer(j.status, j.error_key, trails.get(j.id, [])) for j in rows}


def retry(caller: Caller, job_id: str, *, enqueue: bool = True, storage: Storage | None = None) -> str:
    """Run the signed-in caller's FAILED or CANCELED job again; returns the id of the job to follow.

    - FAILED on our side (:data:`FREE_RETRY_REASONS`): free.  The same job goes back to the
      queue without counting against today's limit and without a reservation; its
      ``reserved_credits`` is set to 0 so it is never charged, whatever happens next.
    - FAILED on the user's side (rejected photo, all results filtered): a normal new generation,
      as before: today's limit counts it and the job's price is reserved again.  It is counted
      in the transaction that moves the job back to PENDING, after the move: a second tap of a
      double tap waits for that row, finds it PENDING and is refused without being counted, and
      a refused count (or reservation) leaves the job FAILED.
    - CANCELED: a normal new generation of the same photo as a **new** job (the canceled one stays
      in the history; its provider requests were canceled and cannot be resumed).  It goes through
      the upload path (:func:`lashme.jobs.uploads.submit_photo`): today's limit, the current
      price reserved, the presets active now.  A canceled job is started again at most once.

    One FAILED job can be retried at most :data:`MAX_USER_RETRIES` times (free or not).

    Args:
        caller: a signed-in user (visitors upload again instead).
        job_id: their FAILED or CANCELED job.
        enqueue: put it on the RQ queue (tests run it directly).
        storage: storage backend (tests; reads a canceled job's photo).

    Returns:
        ``job_id`` for a FAILED job, the new job's id for a CANCELED one.

    Raises:
        NotFound: ``job.not_found`` (also for visitors and other people's jobs).
        DomainError: ``job.not_retryable`` unless FAILED or CANCELED (or the photo is gone:
            ``generation.original_missing``); ``job.retry_limit`` after :data:`MAX_USER_RETRIES`
            retries; ``job.already_restarted`` for a canceled job started again before.
        DailyLimitReached: today's jobs are used up (not for a free retry).
        InsufficientCredits: the reservation does not fit the balance; nothing changes.
        DomainError: ``generation.queue_unavailable`` when Redis does not answer (after the
            transition the job stays PENDING and the sweeper queues it).
    """
    job_id = str(job_id)[:32]
    with session_scope() as s:
        job = jobs.get_owned_job(s, job_id, user_id=caller.user_id, anon_token=None)
        events = jobs.events_of(s, job_id)
        offer = retry_offer(job.status, job.error_key, events)
        status, reason, original = job.status, failure_reason(job.error_key, events), job.original_key
        limit = pricing.get_prices(s).daily_limit_user
    if status == JobStatus.CANCELED:
        if not offer.allowed:
            raise DomainError("job.already_restarted")
        return _restart_canceled(caller, job_id, original, enqueue=enqueue, storage=storage)
    if status != JobStatus.FAILED:
        raise DomainError("job.not_retryable")
    if reason in NO_RETRY_REASONS:
        raise DomainError(reason)
    if not offer.allowed:
        raise DomainError("job.retry_limit")
    with session_scope() as s:
        try:
            if offer.free:  # no reservation now (the transition reads it) and no charge later
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.FAILED)
                    .values(reserved_credits=0)
                    .execution_options(synchronize_session=False)
                )
            message = FREE_RETRY_MESSAGE if offer.free else RETRY_MESSAGE
            jobs.transition(s, job_id, JobStatus.PENDING, expected=[JobStatus.FAILED], message=message)
        except InvalidTransition:
            raise DomainError("job.not_retryable") from None
        if not offer.free:
            # counted only once this transaction holds the job's move to PENDING (a second tap
            # waits on the row, then finds it PENDING: refused, nothing counted); a refusal here
            # rolls the move and its reservation back
            _consume_daily(caller.user_id, limit)
    if enqueue:
        try:
            queue.enqueue_generation(job_id)
        except (RedisError, LockError) as exc:  # the job stays PENDING: the sweeper queues it later
            raise DomainError("generation.queue_unavailable") from exc
    queue.notify(job_id, JobStatus.PENDING)
    return job_id


def _consume_daily(user_id: int, limit: int) -> None:
    """Count one job of ``user_id`` against today's limit of ``limit`` jobs (a paid retry).

    Raises:
        DailyLimitReached: today's jobs are used up; nothing is counted.
        DomainError: ``generation.queue_unavailable`` when Redis (the counter) does not answer.
    """
    try:
        daily_limits.consume(user_id=user_id, anon_token=None, client_ip=None, limit=limit)
    except RedisError as exc:
        raise DomainError("generation.queue_unavailable") from exc


def _restart_canceled(
    caller: Caller, job_id: str, original_key: str, *, enqueue: bool, storage: Storage | None
) -> str:
    """A new job of the canceled job's photo (the upload path: limits, price); marks the old one.

    The restart is claimed first (:data:`RESTART_CLAIM`, a conditional UPDATE of the canceled
    job's row: atomic on PostgreSQL and SQLite), so a second tap racing the first one gets
    ``job.already_restarted`` and no second job.  When the new job is refused (daily limit,
    balance, storage), the claim is given back and the owner may try again.

    Raises:
        DomainError: ``job.already_restarted`` (another tap holds or used the claim),
            ``generation.original_missing``; and whatever :func:`lashme.jobs.uploads.submit_photo` raises.
    """
    storage = storage or get_storage()
    now = utcnow()
    with session_scope() as s:
        claimed = s.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == JobStatus.CANCELED,
                or_(
                    Job.error_detail.is_(None),
                    and_(Job.error_detail == RESTART_CLAIM, Job.updated_at < now - RESTART_CLAIM_TTL),
                ),
            )
            .values(error_detail=RESTART_CLAIM, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    if claimed != 1:
        raise DomainError("job.already_restarted")
    try:
        try:
            data = storage.get(original_key)
        except StorageError as exc:
            raise DomainError("generation.original_missing") from exc
        new = uploads.submit_photo(
            data, user_id=caller.user_id, anon_token=None, storage=storage, enqueue=enqueue
        )
        del data
    except BaseException:
        with session_scope() as s:  # give the claim back: nothing was started
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.error_detail == RESTART_CLAIM)
                .values(error_detail=None)
                .execution_options(synchronize_session=False)
            )
        raise
    with session_scope() as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(error_detail=f"started again as {new.id}")
            .execution_options(synchronize_session=False)
        )
        jobs.add_event(
            s,
            job_id,
            kind=RESTARTED_EVENT,
            message=f"started again by owner as {new.id}",
            data={"job_id": new.id},
        )
    return new.id


class JobWatch:
    """Signals that the watched job may have changed (no data: re-read it with :func:`get`)."""

    def __init__(self, pubsub) -> None:
        self._pubsub = pubsub

    async def wait(self, timeout: float) -> bool:
        """Wait until a change is announced or ``timeout`` seconds pass; True when one was announced.

        Announcements already received with the first one are taken too (each change is
        published on the job's channel and on the queue channel): one re-read covers them all,
        since they were sent before it starts.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if msg is not None:
                while await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0) is not None:
                    pass
                return True


@contextlib.asynccontextmanager
async def watch(caller: Caller, job_id: str) -> AsyncIterator[JobWatch]:
    """Subscribe to the job's change announcements (Redis pub/sub) while the block runs.

    The job's own channel and the queue channel (queue positions move) are
    watched.  Announcements may be lost; poll with a timeout as a safety net.

    Raises:
        NotFound: ``job.not_found`` when it is not the caller's.
        redis.exceptions.RedisError: Redis is unreachable.
    """
    await asyncio.to_thread(get, caller, job_id)  # ownership first: no subscriptions for strangers
    client = aioredis.from_url(queue.redis_url())
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(queue.job_channel(str(job_id)[:32]), queue.QUEUE_CHANNEL)
        yield JobWatch(pubsub)
    finally:
        await pubsub.aclose()
        await client.aclose()
