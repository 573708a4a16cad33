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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from lashme import i18n
from lashme.accounts import daily_limits
from lashme.app.caller import Caller
from lashme.credits import pricing, unlocks
from lashme.errors import DomainError
from lashme.files.storage import Storage, get_storage
from lashme.jobs import cancel as cancels
from lashme.jobs import fullres, queue
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import FINAL_JOB_STATUSES, JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

#: how many times the owner may send one failed job back to the queue
MAX_USER_RETRIES = 3
#: the job event message of an owner's retry (counted for :data:`MAX_USER_RETRIES`)
RETRY_MESSAGE = "retried by owner"


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
            unlocked by the caller and rendered.
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
    """

    id: str
    status: str
    created_at: datetime
    position: int = 0
    error_key: str = ""
    variants: tuple[VariantTile, ...] = ()

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
    position = (queue.queue_position(job_id) or 0) if status == JobStatus.PENDING else 0
    tiles = tuple(_tile(v, v.id in owned, storage, ttl) for v in variants)
    return JobView(
        id=job_id,
        status=str(status),
        created_at=created_at,
        position=position,
        error_key=error_key,
        variants=tiles,
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


def retry(caller: Caller, job_id: str, *, enqueue: bool = True) -> None:
    """Send the signed-in caller's failed job back to the queue (credits are reserved again).

    A retry is a new generation: it counts against the user's daily limit, and
    one job can be retried at most :data:`MAX_USER_RETRIES` times.

    Args:
        caller: a signed-in user (visitors upload again instead).
        job_id: their FAILED job.
        enqueue: put it on the RQ queue (tests run it directly).

    Raises:
        NotFound: ``job.not_found`` (also for visitors).
        DomainError: ``job.not_retryable`` unless it is FAILED; ``job.retry_limit``
            after :data:`MAX_USER_RETRIES` retries.
        DailyLimitReached: today's jobs are used up.
        InsufficientCredits: the retry's reservation does not fit the balance; nothing changes.
        DomainError: ``generation.queue_unavailable`` when Redis does not answer (after the
            transition the job stays PENDING and the sweeper queues it).
    """
    job_id = str(job_id)[:32]
    with session_scope() as s:
        job = jobs.get_owned_job(s, job_id, user_id=caller.user_id, anon_token=None)
        if job.status != JobStatus.FAILED:
            raise DomainError("job.not_retryable")
        retried = sum(1 for e in jobs.events_of(s, job_id) if e.message == RETRY_MESSAGE)
        if retried >= MAX_USER_RETRIES:
            raise DomainError("job.retry_limit")
        limit = pricing.get_prices(s).daily_limit_user
    try:
        daily_limits.consume(user_id=caller.user_id, anon_token=None, client_ip=None, limit=limit)
    except RedisError as exc:
        raise DomainError("generation.queue_unavailable") from exc
    with session_scope() as s:
        try:
            jobs.transition(s, job_id, JobStatus.PENDING, expected=[JobStatus.FAILED], message=RETRY_MESSAGE)
        except InvalidTransition:
            raise DomainError("job.not_retryable") from None
    if enqueue:
        try:
            queue.enqueue_generation(job_id)
        except (RedisError, LockError) as exc:  # the job stays PENDING: the sweeper queues it later
            raise DomainError("generation.queue_unavailable") from exc
    queue.notify(job_id, JobStatus.PENDING)


class JobWatch:
    """Signals that the watched job may have changed (no data: re-read it with :func:`get`)."""

    def __init__(self, pubsub) -> None:
        self._pubsub = pubsub

    async def wait(self, timeout: float) -> bool:
        """Wait until a change is announced or ``timeout`` seconds pass; True when one was announced."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if msg is not None:
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
