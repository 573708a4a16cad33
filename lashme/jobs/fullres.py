"""Full resolution of an unlocked variant, and which files may be shown to whom.

Plain Python, no Reflex import.  Who sees which pixels:

- Generation (:mod:`lashme.jobs.generation`) stores only watermarked,
  low-resolution files: ``Variant.preview_key`` (<= 480 px) and
  ``Variant.thumb_key`` (<= 320 px), :data:`WATERMARKED_FIELDS`.  These are
  the only files a visitor, a non-owner or an owner who has not paid may be
  given (signed URLs for them and nothing else).
- Clean display renditions (``clean_preview_key`` <= 480 px,
  ``clean_thumb_key`` <= 320 px) are stored privately by generation right
  after the previews are published
  (:func:`lashme.jobs.generation.store_clean_renditions`): the watermarked
  files' pixels without the watermark.  They exist for locked variants too but
  are signed only for the owner who unlocked the variant
  (:func:`display_keys`), so the unlock swaps the card's image in the same
  event, before the full-size render is done.
- Clean full-size files exist only for an unlocked variant, made by :func:`render` on
  the worker after :func:`request_render`: the full-size image
  (``full_key``, the upload's resolution up to the upload pixel cap), the
  crops (``crops``: 4:5, 1:1, 9:16, cut from the full-size image, never
  upscaled; a crop the source is too small for is stored at its native size
  with ``too_small``), and a clean preview/thumbnail (``clean_preview_key``,
  ``clean_thumb_key``, when generation did not store them) for the owner's own
  pages, :data:`CLEAN_FIELDS`.
  ``insta_key`` is the 4:5 crop (downloads named ``-4x5``).
- ``source_key`` (fal's output kept at generation) is clean and private: it
  is never given to anyone, only rendered from.

How the full-size image is made:

- ``studio``: the variant's preset, with the preset version pinned on the job
  (strength and params), runs on a 1536 px working copy
  (:data:`lashme.images.working_copy.FULLRES_WORKING_SIDE`), and the edit is carried
  to the full-size original by :func:`lashme.images.full_size.apply_edit_at_full_size`
  (detail transfer, in place and in strips), so a 12 MP render stays within
  the worker's memory budget (the studio engine itself needs ~65 bytes per
  pixel).  An original no larger than the working copy gets the preset's own
  output at its size.
- other providers (fal): the provider's output at its own size (never upscaled).

Progress: the variant's ``fullres_status`` goes ``pending`` (requested) ->
``rendering`` -> ``ready`` (or ``failed``); each step is a job event of kind
``fullres`` (data: variant id, index, state) and a pub/sub message on the
job's channel, so a page watching the job wakes up.  Rendering is idempotent
(deterministic keys, same bytes) and cached: a ready variant is never
rendered again.

The application layer calls, after a successful unlock in the same session::

    status = fullres.request_render(session, variant_id)   # queues the render on commit
    status = fullres.fullres_status(session, variant_id)   # later: pending/rendering/ready/failed
    keys = fullres.display_keys(variant, unlocked=True)    # which preview/thumb key to sign
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, event, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from lashme.errors import NotFound
from lashme.files.storage import Storage, StorageError, get_storage
from lashme.files.storage.base import variant_key
from lashme.images import codec, full_size, variant_files, working_copy
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.models import Job, JobEvent, JobStatus, Unlock, Variant, utcnow
from lashme.ops.db import run_compiled, session_scope

log = logging.getLogger(__name__)

NONE, PENDING, RENDERING, READY, FAILED = "none", "pending", "rendering", "ready", "failed"
#: Variant columns holding watermarked low-res files: the only ones a visitor, a non-owner
#: or an owner who has not unlocked the variant may be given.
WATERMARKED_FIELDS: tuple[str, ...] = ("preview_key", "thumb_key")
#: Variant columns holding clean files: signed only for the owner who unlocked the variant
#: (``crops`` holds more clean keys); the clean preview/thumbnail may exist before the unlock.
#: ``source_key`` is clean too and never served at all.
CLEAN_FIELDS: tuple[str, ...] = ("full_key", "insta_key", "clean_preview_key", "clean_thumb_key")


@dataclass(frozen=True)
class Crop:
    """One crop of an unlocked variant.

    Attributes:
        name: ``"4x5"``, ``"1x1"`` or ``"9x16"``.
        key: storage key of the JPEG.
        width: pixels.
        height: pixels.
        too_small: the full-size image is smaller than the target size
            (1080x1350, 1080x1080, 1080x1920): the crop has its native size
            (same aspect), it was not upscaled; say so to the user.
    """

    name: str
    key: str
    width: int
    height: int
    too_small: bool


@dataclass(frozen=True)
class FullResStatus:
    """Where a variant's full-resolution render is.

    Attributes:
        variant_id: the variant.
        job_id: its job.
        state: ``none`` (never requested), ``pending`` (queued), ``rendering``,
            ``ready`` or ``failed``.
        full_key: storage key of the full-size JPEG once ready, else None.
        width: full-size width in px (0 until ready).
        height: full-size height in px (0 until ready).
        clean_preview_key: clean <= 480 px preview once ready (owner only), else None.
        clean_thumb_key: clean <= 320 px thumbnail once ready (owner only), else None.
        crops: the crops once ready, in ``4x5``, ``1x1``, ``9x16`` order.
        error: technical reason of a failed render (not for users), else None.
    """

    variant_id: str
    job_id: str
    state: str
    full_key: str | None = None
    width: int = 0
    height: int = 0
    clean_preview_key: str | None = None
    clean_thumb_key: str | None = None
    crops: tuple[Crop, ...] = field(default_factory=tuple)
    error: str | None = None

    @property
    def ready(self) -> bool:
        """True once the clean files can be served."""
        return self.state == READY and self.full_key is not None


@dataclass(frozen=True)
class DisplayKeys:
    """The storage keys to sign for a variant's card.

    Attributes:
        preview_key: <= 480 px image (None for a filtered variant).
        thumb_key: <= 320 px image (None for a filtered variant).
        clean: True when both are clean (unlocked, clean files stored), False when watermarked.
    """

    preview_key: str | None
    thumb_key: str | None
    clean: bool


def display_keys(variant: Variant, *, unlocked: bool) -> DisplayKeys:
    """Which preview/thumbnail files a viewer of ``variant`` may be given.

    Args:
        variant: the variant row.
        unlocked: the viewer is the owner *and* has unlocked this variant. Pass
            False for visitors, other users, and owners who have not paid.

    Returns:
        The clean files when ``unlocked`` and they exist (stored at generation, or by the
        full-size render), else the watermarked ones.
    """
    if unlocked and variant.clean_preview_key and variant.clean_thumb_key:
        return DisplayKeys(variant.clean_preview_key, variant.clean_thumb_key, True)
    return DisplayKeys(variant.preview_key, variant.thumb_key, False)


def status_of(variant: Variant) -> FullResStatus:
    """The render status stored on a variant row (no query)."""
    state = variant.fullres_status or NONE
    ready = state == READY
    crops = tuple(
        Crop(name, c["key"], int(c["width"]), int(c["height"]), bool(c["too_small"]))
        for name, c in (variant.crops or {}).items()
        if ready and c.get("key")
    )
    return FullResStatus(
        variant_id=variant.id,
        job_id=variant.job_id,
        state=state,
        full_key=variant.full_key if ready else None,
        width=variant.full_width if ready else 0,
        height=variant.full_height if ready else 0,
        clean_preview_key=variant.clean_preview_key if ready else None,
        clean_thumb_key=variant.clean_thumb_key if ready else None,
        crops=crops,
        error=variant.fullres_error if state == FAILED else None,
    )


def fullres_status(session: Session, variant_id: str) -> FullResStatus:
    """The full-resolution status of ``variant_id``.

    The caller checks ownership/unlock first (the keys are clean files).

    Raises:
        NotFound: ``variant.not_found``.
    """
    variant = session.get(Variant, variant_id) if variant_id and len(variant_id) <= 32 else None
    if variant is None:
        raise NotFound("variant.not_found")
    return status_of(variant)


def request_render(session: Session, variant_id: str, *, enqueue: bool = True) -> FullResStatus:
    """Ask for the full-resolution files of an unlocked variant; queued when the session commits.

    Call it right after the unlock, in the same transaction (the caller has
    checked ownership and the unlock).  Idempotent: a ready variant is left as
    it is, a pending or rendering one is queued again only if its RQ job is
    gone (:func:`lashme.jobs.queue.enqueue_fullres` skips queued/running ones),
    a failed one is tried again.  If Redis is down at commit the request stays
    ``pending`` and the sweeper queues it later.

    Args:
        session: the caller's open session (it owns the transaction).
        variant_id: the unlocked variant.
        enqueue: queue the render after commit (tests may call :func:`render` directly).

    Returns:
        The status after the request (``ready``, or ``pending``/``rendering``).

    Raises:
        NotFound: ``variant.not_found``; ``variant.not_ready`` (filtered, or its job is not DONE).
    """
    variant = session.get(Variant, variant_id) if variant_id and len(variant_id) <= 32 else None
    if variant is None:
        raise NotFound("variant.not_found")
    job = session.get(Job, variant.job_id)
    if variant.filtered or job is None or job.status != JobStatus.DONE or not variant.preview_key:
        raise NotFound("variant.not_ready")
    if variant.fullres_status == READY and variant.full_key:
        return status_of(variant)
    if variant.fullres_status not in (PENDING, RENDERING):
        _set_state(session, variant, PENDING)
    if enqueue:
        event.listen(session, "after_commit", lambda _s: enqueue_render(variant_id), once=True)
    return status_of(variant)


def request_render_core(conn: Connection, variant_id: str, *, checked: bool = False) -> tuple[str, bool]:
    """:func:`request_render` on a Core connection, without ORM objects; the caller queues the render.

    Same effect on the row as :func:`request_render` (a ready variant is left as it is,
    any other becomes ``pending`` with a ``fullres`` job event unless already pending or
    rendering): a conditional ``UPDATE … RETURNING`` and the event ``INSERT``, on PostgreSQL
    one statement (data-modifying CTE), on SQLite two; when nothing changed, one more
    ``SELECT`` of the current state.  A Core
    connection has no after-commit hook: the caller calls :func:`enqueue_render` after
    its transaction committed when the second value is True (a request whose commit
    never reaches Redis stays ``pending`` and the sweeper queues it).

    Args:
        conn: the caller's Core connection in its transaction.
        variant_id: the unlocked variant.
        checked: the caller has checked in this transaction that the variant exists and is
            ready (``lashme.credits.unlocks.unlock_variant`` does); else it is checked here.

    Returns:
        ``(state, enqueue)``: the state after the request and whether to queue the render.

    Raises:
        NotFound: ``variant.not_found``; ``variant.not_ready`` (filtered, or its job is not DONE).
    """
    now = utcnow()
    binds = {"variant_id": variant_id, "now": now}
    if conn.dialect.name == "postgresql":  # the UPDATE and the event in one statement
        if run_compiled(conn, _pending_statements(checked, postgres=True), binds) is not None:
            return PENDING, True
    else:
        changed = conn.execute(_pending_statements(checked, postgres=False), binds).first()
        if changed is not None:
            conn.execute(
                insert(_E).values(
                    job_id=changed.job_id,
                    kind="fullres",
                    message=PENDING,
                    data={"variant_id": variant_id, "index": changed.index, "state": PENDING},
                    created_at=now,
                )
            )
            return PENDING, True
    row = conn.execute(
        select(_V.c.fullres_status, _V.c.full_key, _V.c.filtered, _V.c.preview_key, _J.c.status)
        .select_from(_V.join(_J, _J.c.id == _V.c.job_id))
        .where(_V.c.id == variant_id)
    ).first()
    if row is None:
        raise NotFound("variant.not_found")
    if row.filtered or not row.preview_key or row.status != JobStatus.DONE:
        raise NotFound("variant.not_ready")
    state = row.fullres_status or NONE
    return state, not (state == READY and row.full_key)


_V, _J, _E = Variant.__table__, Job.__table__, JobEvent.__table__
_pending_cache: dict[tuple[bool, bool], Any] = {}


def _pending_statements(checked: bool, *, postgres: bool):
    """The statement moving a variant to ``pending`` (binds ``variant_id``, ``now``), built once.

    PostgreSQL: ``WITH moved AS (UPDATE variants … RETURNING job_id, index) INSERT INTO
    job_events … SELECT … FROM moved RETURNING id`` (a row when the variant moved).
    Else the ``UPDATE … RETURNING job_id, index`` alone.
    """
    stmt = _pending_cache.get((checked, postgres))
    if stmt is not None:
        return stmt
    vid, now = bindparam("variant_id", type_=_V.c.id.type), bindparam("now", type_=_E.c.created_at.type)
    sets_pending = or_(
        _V.c.fullres_status.is_(None),
        and_(*(_V.c.fullres_status != state for state in (PENDING, RENDERING, READY))),
        and_(_V.c.fullres_status == READY, _V.c.full_key.is_(None)),
    )
    ready = _V.c.preview_key.is_not(None) & ~_V.c.filtered
    if not checked:
        ready = ready & _V.c.job_id.in_(select(_J.c.id).where(_J.c.status == JobStatus.DONE))
    stmt = (
        update(_V)
        .where(_V.c.id == vid, sets_pending, ready)
        .values(fullres_status=PENDING, fullres_error=None, fullres_updated_at=now)
        .returning(_V.c.job_id, _V.c.index)
    )
    if postgres:
        moved = stmt.cte("moved")
        data = func.json_build_object("variant_id", vid, "index", moved.c.index, "state", PENDING)
        stmt = (
            insert(_E)
            .from_select(
                ["job_id", "kind", "message", "data", "created_at"],
                select(moved.c.job_id, literal("fullres"), literal(PENDING), data, now),
            )
            .returning(_E.c.id)
        )
    _pending_cache[(checked, postgres)] = stmt
    return stmt


def enqueue_render(variant_id: str) -> bool:
    """Queue the render of ``variant_id`` now; False (logged) when Redis refused (the sweeper retries)."""
    try:
        queue.enqueue_fullres(variant_id)
    except Exception:  # noqa: BLE001 - the request is in the database; the sweeper queues it later
        log.warning("could not queue the full-resolution render of %s", variant_id, exc_info=True)
        return False
    return True


def _set_state(session: Session, variant: Variant, state: str, *, error: str | None = None, **data) -> None:
    variant.fullres_status = state
    variant.fullres_error = error[:255] if error else None
    variant.fullres_updated_at = utcnow()
    session.add(variant)
    jobs.add_event(
        session,
        variant.job_id,
        kind="fullres",
        message=state if error is None else f"{state}: {error}"[:500],
        data={"variant_id": variant.id, "index": variant.index, "state": state, **data},
    )


def render(variant_id: str, *, engine: Engine | None = None, storage: Storage | None = None) -> str:
    """Render and store the clean files of an unlocked variant (the worker task's body).

    Idempotent and cached: a ready variant whose full-size file is stored is
    left alone; files go to deterministic keys, so two runs write the same
    bytes.  Refuses (``"locked"``) a variant nobody has unlocked: clean pixels
    are made only for a paid variant.

    Returns:
        ``"ready"`` (rendered now or before), ``"locked"``, ``"skipped"``
        (filtered variant or job not DONE) or ``"missing"`` (no such variant).

    Raises:
        StorageError: reading the original/source or writing a file failed (RQ retries).
        Exception: the image could not be rendered (RQ retries, then it is marked failed).
    """
    storage = storage or get_storage()
    with session_scope(engine) as s:
        query = select(Variant, Job).join(Job, Job.id == Variant.job_id).where(Variant.id == variant_id)
        row = s.execute(query).first()
        if row is None:
            return "missing"
        variant, job = row
        if variant.filtered or job.status != JobStatus.DONE:
            return "skipped"
        if not s.scalar(select(func.count()).select_from(Unlock).where(Unlock.variant_id == variant_id)):
            return "locked"
        if variant.fullres_status == READY and variant.full_key and storage.exists(variant.full_key):
            return READY
        _set_state(s, variant, RENDERING)
        plan = _Plan(
            job_id=job.id,
            index=variant.index,
            preset=variant.preset,
            provider=job.provider,
            original_key=job.original_key,
            source_key=variant.source_key,
            version_id=_pinned_version(job, variant.index),
            prefix=job.original_key.rsplit("/", 1)[0] + "/",
        )
    queue.notify(plan.job_id, f"fullres:{RENDERING}")
    started = time.monotonic()
    full = _full_size_image(plan, storage, engine)
    files = variant_files.render_unlocked_files(full, consume=True)
    del full
    keys: dict[str, str] = {}
    for kind, data in files.items():
        keys[kind] = variant_key(plan.prefix, plan.index, kind)
        storage.put(keys[kind], data, content_type="image/jpeg")
    crops = {name: {**info, "key": keys[f"crop-{name}"]} for name, info in files.crops.items()}
    seconds = round(time.monotonic() - started, 3)
    with session_scope(engine) as s:
        variant = s.get(Variant, variant_id)
        if variant is None:  # deleted meanwhile: drop what was written
            return "missing"
        variant.full_key = keys["full"]
        variant.insta_key = keys["crop-4x5"]
        if not (variant.clean_preview_key and variant.clean_thumb_key):  # keep the card's image stable
            variant.clean_preview_key = keys["clean_preview"]
            variant.clean_thumb_key = keys["clean_thumb"]
        variant.full_width, variant.full_height = files.size
        variant.crops = crops
        _set_state(s, variant, READY, seconds=seconds, width=files.size[0], height=files.size[1])
    queue.notify(plan.job_id, f"fullres:{READY}")
    log.info("variant %s rendered at %dx%d in %.2fs", variant_id, *files.size, seconds)
    return READY


def mark_failed(variant_id: str, error: str, *, engine: Engine | None = None) -> bool:
    """Mark a render that cannot succeed ``failed`` (no retry left); True if it changed.

    A later :func:`request_render` (e.g. the owner opening the variant again) tries again.
    """
    with session_scope(engine) as s:
        variant = s.get(Variant, variant_id)
        if variant is None or variant.fullres_status in (READY, FAILED):
            return False
        _set_state(s, variant, FAILED, error=error)
        job_id = variant.job_id
    queue.notify(job_id, f"fullres:{FAILED}")
    return True


def stale_requests(session: Session, *, older_than_seconds: float) -> list[str]:
    """Variant ids whose render is pending/rendering and unchanged for ``older_than_seconds``.

    The sweeper queues them again when RQ has no live job for them (lost
    enqueue, Redis restarted, worker died).
    """
    cutoff = utcnow().timestamp() - older_than_seconds
    rows = session.execute(
        select(Variant.id, Variant.fullres_updated_at).where(Variant.fullres_status.in_([PENDING, RENDERING]))
    ).all()
    return [vid for vid, at in rows if at is None or at.timestamp() < cutoff]


def touch(session: Session, variant_id: str) -> None:
    """Reset the staleness clock of a render request (after the sweeper queued it again)."""
    session.execute(
        update(Variant)
        .where(Variant.id == variant_id)
        .values(fullres_updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class _Plan:
    job_id: str
    index: int
    preset: str
    provider: str
    original_key: str
    source_key: str | None
    version_id: int | None
    prefix: str


def _pinned_version(job: Job, index: int) -> int | None:
    ids = job.preset_version_ids or []
    return ids[index] if index < len(ids) else None


def _full_size_image(plan: _Plan, storage: Storage, engine: Engine | None) -> np.ndarray:
    """The variant at full size as a writable ``(H, W, 3)`` uint8 array."""
    if plan.source_key:  # the provider's own output (fal), at its size
        return codec.decode_rgb_array(storage.get(plan.source_key))
    if plan.provider != "studio":
        raise StorageError(f"no stored output to render from for a {plan.provider} variant")
    from lashme.providers.studio import StudioProvider, StudioSettings

    settings = StudioSettings()
    if plan.version_id is not None:
        from lashme.images import presets

        with session_scope(engine) as s:
            version = presets.versions_by_id(s, [plan.version_id])[0]
            settings = StudioSettings.from_version(version.strength, version.params)
    original = storage.get(plan.original_key)
    provider = StudioProvider(max_side=working_copy.FULLRES_WORKING_SIDE)
    working = np.asarray(working_copy.load_for_processing(original, max_side=provider.max_side))
    edited = np.asarray(provider.generate(original, [plan.preset], settings=[settings])[0].image)
    full = codec.decode_rgb_array(original)
    del original
    return full_size.apply_edit_at_full_size(full, working, edited)
