"""One variant: its page, the unlock (the only place an unlock is charged), and download links.

Signed-in owners only: a visitor's or another user's request is
:class:`~lashme.errors.NotFound` (``variant.not_found``) like a missing id.

Unlocking is idempotent by (user, variant): the ledger entry's idempotency key is
``unlock:{user_id}:{variant_id}`` and ``unlocks`` has a unique ``(user_id, variant_id)``,
so a repeated or racing unlock never charges twice (it answers ``charged=False``).
The price is read in :func:`unlock`, in the same transaction as the charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lashme.app.caller import Caller
from lashme.credits import ledger, pricing, unlocks
from lashme.errors import DomainError, NotFound
from lashme.files import downloads
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import StorageError
from lashme.jobs import fullres
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus
from lashme.ops.db import connection_scope, session_scope
from lashme.ops.settings import get_settings

#: downloadable files of an unlocked variant: ``full`` (camera resolution), ``insta`` (4:5 crop)
KINDS = downloads.VARIANT_KINDS


@dataclass(frozen=True)
class VariantPage:
    """What the variant page shows.

    Attributes:
        id: variant id.
        job_id: its job.
        index: 0..3 within the job.
        preset: preset code.
        label_key: catalog key of the preset's name.
        filtered: held back by the safety filter (no picture, cannot be unlocked).
        unlocked: the caller has unlocked it.
        job_has_unlocked: at least one variant of the job is unlocked (the ZIP has something).
        favorite: marked as a favorite.
        note: the job's note ("" when none).
        created_at: when the job was uploaded (aware UTC).
        preview_url: signed URL of the preview ("" when filtered): watermarked, or clean once the
            caller unlocked it (at once: generation stored a clean rendition; the full-size
            file may still be rendering, see ``fullres``).
        before_url: signed URL of a small copy of the original ("" when it is gone).
        fullres: the full-resolution render of an unlocked variant: ``none`` (locked),
            ``pending``, ``rendering``, ``ready`` or ``failed``; downloads work once ``ready``.
        altered: the fidelity guard found that this generative variant reshapes the work: it
            cannot be unlocked (``fidelity.altered_note`` says why).
        fidelity_score: the guard's structural fidelity 0..1, None when not measured (studio).
        clean: ``preview_url`` is the clean (paid) image, not the watermarked one.
        full_width: the full-size image's width in px once rendered (0 before).
        full_height: its height in px (0 before).
        small_crops: crops (``4x5``, ``1x1``, ``9x16``) the photo is too small for at the
            target size: they keep the photo's own resolution (never upscaled); say so.
    """

    id: str
    job_id: str
    index: int
    preset: str
    label_key: str
    filtered: bool
    unlocked: bool
    job_has_unlocked: bool
    favorite: bool
    note: str
    created_at: datetime
    preview_url: str
    before_url: str
    fullres: str = fullres.NONE
    altered: bool = False
    fidelity_score: float | None = None
    clean: bool = False
    full_width: int = 0
    full_height: int = 0
    small_crops: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnlockQuote:
    """What unlocking a variant would cost the caller now (the confirmation before spending).

    Attributes:
        variant_id: the variant.
        unlocked: the caller has unlocked it already (unlocking again is free).
        cost: credits the unlock takes now (0 when already unlocked).
        available: the caller's spendable balance now.
        after: the balance after the unlock (``available - cost``; negative when short).
        enough: the balance covers the cost.
        cheapest_cents: the lowest price of one credit among the packs on sale, in
            ``currency``'s minor units (0 when no pack is on sale), for "from $0.30 a photo".
        currency: ISO code of ``cheapest_cents`` (lower case, "" when no pack is on sale).
    """

    variant_id: str
    unlocked: bool
    cost: int
    available: int
    after: int
    enough: bool
    cheapest_cents: int = 0
    currency: str = ""


@dataclass(frozen=True)
class Unlocked:
    """An unlock's outcome.

    Attributes:
        variant_id: the variant.
        charged: True when this call paid for it; False when it was unlocked already (free).
        cost: credits charged by this call.
        available: the caller's spendable balance afterwards.
        held: the caller's reserved credits afterwards.
        fullres: the full-resolution render (``pending`` until the worker has made the files,
            then ``ready``; the job's watchers are told at each step).
    """

    variant_id: str
    charged: bool
    cost: int
    available: int
    held: int
    fullres: str = fullres.NONE


def get(caller: Caller, variant_id: str, *, storage: Storage | None = None) -> VariantPage:
    """The caller's variant page (makes the original's small comparison copy once; blocking).

    Raises:
        NotFound: ``variant.not_found`` (missing, not the caller's, visitor) or
            ``variant.not_ready`` (its job is not DONE).
    """
    storage, ttl = storage or get_storage(), get_settings().url_ttl
    variant_id = str(variant_id)[:32]
    with session_scope() as s:
        variant, job = jobs.get_owned_variant(s, variant_id, user_id=caller.user_id)
        if job.status != JobStatus.DONE:
            raise NotFound("variant.not_ready")
        owned = unlocks.unlocked_ids(
            s, user_id=caller.user_id, variant_ids=[v.id for v in jobs.variants_of(s, job.id)]
        )
        keys = fullres.display_keys(variant, unlocked=variant.id in owned)
        status = fullres.status_of(variant) if variant.id in owned else None
        render = status.state if status is not None else fullres.NONE
    try:
        before_url = storage.url(
            downloads.ensure_original_preview(job.original_key, storage=storage), expires_in=ttl
        )
    except StorageError:
        before_url = ""
    return VariantPage(
        id=variant.id,
        job_id=job.id,
        index=variant.index,
        preset=variant.preset,
        label_key=f"preset.{variant.preset}",
        filtered=variant.filtered,
        unlocked=variant.id in owned,
        job_has_unlocked=bool(owned),
        favorite=bool(variant.favorite),
        note=job.note or "",
        created_at=job.created_at,
        preview_url=""
        if variant.filtered or not keys.preview_key
        else storage.url(keys.preview_key, expires_in=ttl),
        before_url=before_url,
        fullres=render,
        altered=bool(variant.altered),
        fidelity_score=variant.fidelity_score,
        clean=keys.clean,
        full_width=status.width if status is not None else 0,
        full_height=status.height if status is not None else 0,
        small_crops=tuple(c.name for c in status.crops if c.too_small) if status is not None else (),
    )


def quote(caller: Caller, variant_id: str) -> UnlockQuote:
    """The price of unlocking the caller's variant and her balance before and after (nothing changes).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (missing, not the caller's) or ``variant.not_ready``
            (filtered, or its job is not DONE).
        DomainError: ``variant.altered`` (the fidelity guard holds it back: it cannot be unlocked).
    """
    user_id = caller.require_user()
    variant_id = str(variant_id)[:32]
    with session_scope() as s:
        variant, job = jobs.get_owned_variant(s, variant_id, user_id=user_id)
        if job.status != JobStatus.DONE or variant.filtered or not variant.preview_key:
            raise NotFound("variant.not_ready")
        if variant.altered:
            raise DomainError("variant.altered")
        done = bool(unlocks.unlocked_ids(s, user_id=user_id, variant_ids=[variant_id]))
        cost = 0 if done else pricing.get_prices(s).unlock_cost
        available = ledger.get_balance(s, user_id).available
        per_credit = [
            (-(-p.price_cents // max(1, p.credits)), p.currency)
            for p in pricing.active_packs(s)
            if p.credits > 0
        ]
    cheapest, currency = min(per_credit) if per_credit else (0, "")
    return UnlockQuote(
        variant_id=variant_id,
        unlocked=done,
        cost=cost,
        available=available,
        after=available - cost,
        enough=available >= cost,
        cheapest_cents=cheapest,
        currency=currency,
    )


def unlock(caller: Caller, variant_id: str) -> Unlocked:
    """Pay the current unlock price (``unlock_cost``, 1 credit by default) for a variant's full resolution.

    Free when the caller has unlocked it before.  The full-resolution render is requested in
    the same transaction and queued when it commits (:func:`lashme.jobs.fullres.request_render_core`).

    One Core transaction (``connection_scope``, no ORM session): on PostgreSQL three
    statements — the price, ownership and readiness read with the ``unlocks`` claim, the
    ledger posting with the claim's ``ledger_entry_id``, the render request (``UPDATE`` +
    event ``INSERT``) — between BEGIN and COMMIT.
    The charge, the ``unlocks`` row and the render request commit together (see
    :func:`lashme.credits.unlocks.unlock_variant` for why the charge is not a posting of
    its own); ``benchmarks/bench_ledger.py`` ("product path") measures this function.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` or ``variant.not_ready`` (filtered, or its job is not DONE).
        DomainError: ``variant.altered`` (the fidelity guard holds it back); nothing was charged.
        InsufficientCredits: ``credits.insufficient``; nothing was charged.
    """
    user_id = caller.require_user()
    variant_id = str(variant_id)[:32]
    with connection_scope() as c:
        result = unlocks.unlock_variant(c, user_id=user_id, variant_id=variant_id, cost=None)
        state, queue_render = fullres.request_render_core(c, variant_id, checked=True)
    if queue_render:  # committed: the worker may start (Redis down: the sweeper queues it later)
        fullres.enqueue_render(variant_id)
    balance: ledger.Balance = result.balance
    return Unlocked(
        variant_id=variant_id,
        charged=result.charged,
        cost=result.cost,
        available=balance.available,
        held=balance.held,
        fullres=state,
    )


def download_link(caller: Caller, variant_id: str, kind: str = "full") -> str:
    """A short-lived link (``/dl/variant/…``) to an unlocked variant's ``full`` or ``insta`` file.

    The link works only together with the caller's sign-in session; the route
    checks ownership and the unlock again and redirects to the storage's own URL.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (missing, not the caller's or not unlocked) or ``variant.not_ready``.
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    user_id = caller.require_user()
    variant_id = str(variant_id)[:32]
    downloads.variant_file(variant_id, kind, user_id=user_id)
    return downloads.variant_url(variant_id, kind, user_id=user_id)
