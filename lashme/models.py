"""SQLModel tables.  Every table the app uses is imported here so Alembic sees it.

Times are timezone-aware UTC (``utcnow()``; SQLModel's ``UTCDateTime``
stores them as UTC and returns aware values on SQLite and PostgreSQL).
Enums are stored as plain strings so new values need no ALTER TYPE.  Jobs and variants use random 32-hex ids
(they appear in URLs); users, events, ledger entries and unlocks use integers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Current time, aware UTC (the convention for every timestamp column)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random 128-bit id as 32 lowercase hex characters."""
    return uuid.uuid4().hex


class JobStatus(StrEnum):
    """Lifecycle of a generation job; see ``lashme.jobs.lifecycle.TRANSITIONS``."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


#: Statuses a job never leaves except by an explicit retry (FAILED -> PENDING).
FINAL_JOB_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELED})


class LedgerKind(StrEnum):
    """What a ledger entry records."""

    SIGNUP_BONUS = "signup_bonus"
    GRANT = "grant"
    PURCHASE = "purchase"
    UNLOCK = "unlock"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    REFUND = "refund"
    ADMIN_ADJUST = "admin_adjust"
    JOB_REFUND = "job_refund"  # an admin gave back what a job's owner was charged for it


class User(SQLModel, table=True):
    """A registered master.  ``balance`` is the sum of ledger deltas; ``held`` is reserved."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    balance: int = Field(default=0)
    held: int = Field(default=0)
    is_blocked: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    #: UI language chosen with the language switch (``en``/``ru``); None = follow the browser.
    locale: str | None = Field(default=None, max_length=8)
    #: when the owner proved the address (emailed link, password reset or a provider's verified email);
    #: None = not yet: the sign-up bonus waits for it (``lashme.accounts.verification``)
    email_verified_at: datetime | None = Field(default=None)


class AuthSession(SQLModel, table=True):
    """A signed-in browser.  Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "auth_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class Job(SQLModel, table=True):
    """One uploaded photo and its generation run.

    Owned by ``user_id`` or, for visitors, by ``anon_token_hash`` (SHA-256 of
    the browser's anonymous token) until claimed at sign-up.
    """

    __tablename__ = "jobs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    anon_token_hash: str | None = Field(default=None, max_length=64, index=True)
    status: JobStatus = Field(default=JobStatus.PENDING, sa_type=String(16), index=True)
    provider: str = Field(max_length=32)
    presets: list[str] = Field(sa_column=Column(JSON, nullable=False))
    original_key: str = Field(max_length=255)
    original_width: int
    original_height: int
    attempts: int = Field(default=0)
    error_key: str | None = Field(default=None, max_length=64)
    error_detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: credits reserved when the job was submitted (``generation_cost`` then); captured on DONE,
    #: released on FAILED/CANCELED.  Kept on the job so later price changes never touch it.
    reserved_credits: int = Field(default=0)
    # external-provider run (fal): pinned preset versions and the cost record
    preset_version_ids: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    provider_model: str | None = Field(default=None, max_length=128)
    provider_submitted_at: datetime | None = None
    provider_completed_at: datetime | None = None
    provider_latency_s: float | None = None
    provider_image_count: int | None = None
    provider_cost_usd: float | None = None
    #: the owner's own note, searchable in the gallery.
    note: str | None = Field(default=None, max_length=200)
    #: fencing token of the current run: incremented each time a run claims the job
    #: (PENDING -> PROCESSING); a run's result writes and the settlement require it unchanged,
    #: so a worker that lost its job (declared dead, job handed on) can never finish it.
    run_token: int = Field(default=0)


class Variant(SQLModel, table=True):
    """One enhanced result of a job; ``(job_id, index)`` is unique so retries upsert."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_variants_job_index"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=32)
    index: int
    preset: str = Field(max_length=64)
    filtered: bool = Field(default=False)
    width: int = 0
    height: int = 0
    full_key: str | None = Field(default=None, max_length=255)
    insta_key: str | None = Field(default=None, max_length=255)
    preview_key: str | None = Field(default=None, max_length=255)
    thumb_key: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    #: the owner marked it as a favorite in the gallery.
    favorite: bool = Field(default=False, index=True)
    # full resolution (``lashme.jobs.fullres``): clean files exist only once a variant is unlocked.
    #: private clean provider output kept to render from (fal); never served. None for studio
    #: (rendered again from the original).
    source_key: str | None = Field(default=None, max_length=255)
    #: clean 480/320 px previews made with the full-size render (for the owner who unlocked it).
    clean_preview_key: str | None = Field(default=None, max_length=255)
    clean_thumb_key: str | None = Field(default=None, max_length=255)
    #: size of ``full_key`` once rendered (px).
    full_width: int = 0
    full_height: int = 0
    #: crops cut from the full-size image: ``{"4x5": {"key", "width", "height", "too_small"}, ...}``.
    crops: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: None (never requested), ``pending``, ``rendering``, ``ready`` or ``failed``.
    fullres_status: str | None = Field(default=None, max_length=16, index=True)
    fullres_error: str | None = Field(default=None, max_length=255)
    fullres_updated_at: datetime | None = None
    #: structural fidelity 0..1 of a generative (fal) output to the original
    #: (:func:`lashme.providers.fidelity.assess`); None for providers that cannot reshape the work.
    fidelity_score: float | None = None
    #: the output reshapes the work (score below the guard's threshold): never offered for unlock.
    altered: bool = Field(default=False)


class JobEvent(SQLModel, table=True):
    """Audit trail of a job: every status change and notable step."""

    __tablename__ = "job_events"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=32)
    kind: str = Field(default="status", max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    message: str | None = Field(default=None, max_length=500)
    data: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """Append-only credit ledger row.

    ``delta`` changes ``users.balance``; ``held_delta`` changes ``users.held``
    (reservations).  ``job_id``/``variant_id`` are plain references, not
    foreign keys: the history outlives deleted jobs.  ``balance_after``/``held_after`` are the user's values
    right after this entry, written in the same transaction.
    """

    __tablename__ = "ledger_entries"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    delta: int
    held_delta: int = Field(default=0)
    kind: LedgerKind = Field(sa_type=String(32))
    reason: str = Field(max_length=255)
    idempotency_key: str = Field(max_length=128, unique=True)
    balance_after: int
    held_after: int = Field(default=0)
    job_id: str | None = Field(default=None, max_length=32, index=True)
    variant_id: str | None = Field(default=None, max_length=32)
    order_id: str | None = Field(default=None, max_length=32, index=True)
    actor: str = Field(default="system", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Unlock(SQLModel, table=True):
    """A variant a user paid to unlock; downloads of it are free from then on."""

    __tablename__ = "unlocks"
    __table_args__ = (UniqueConstraint("user_id", "variant_id", name="uq_unlocks_user_variant"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    variant_id: str = Field(max_length=32, index=True)
    ledger_entry_id: int | None = Field(default=None, foreign_key="ledger_entries.id")
    created_at: datetime = Field(default_factory=utcnow)


class PriceSetting(SQLModel, table=True):
    """One named price or limit (``credits.pricing.PRICE_KEYS``), seeded by migration, edited by admins."""

    __tablename__ = "price_settings"

    key: str = Field(primary_key=True, max_length=64)
    value: int
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="migration", max_length=64)


class CreditPack(SQLModel, table=True):
    """A credit pack sold through Stripe Checkout; ``price_cents`` is in the currency's minor unit."""

    __tablename__ = "credit_packs"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    credits: int
    price_cents: int
    currency: str = Field(default="usd", max_length=3)
    popular: bool = Field(default=False)
    active: bool = Field(default=True)
    sort_order: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)


class OrderStatus(StrEnum):
    """Lifecycle of a credit-pack order (see ``lashme.credits.payments``)."""

    PENDING = "pending"  # Checkout Session created, not paid yet
    PAID = "paid"  # credits granted
    FAILED = "failed"  # async payment failed or session expired
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"  # a chargeback was opened; the pack's credits were taken back


class Order(SQLModel, table=True):
    """A purchase of one credit pack.

    ``credits``/``amount_cents``/``currency`` are copied from the pack when the
    order is created, so later price edits never change it.  The Stripe
    Checkout Session id and PaymentIntent id are UNIQUE: one payment can be
    fulfilled at most once.  ``clawback_shortfall`` counts refunded credits
    that could not be taken back because the user had already spent them.
    """

    __tablename__ = "orders"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="users.id", index=True)
    pack_id: int | None = Field(default=None, foreign_key="credit_packs.id")
    pack_code: str = Field(max_length=32)
    credits: int
    amount_cents: int
    currency: str = Field(max_length=3)
    status: OrderStatus = Field(default=OrderStatus.PENDING, sa_type=String(24), index=True)
    checkout_session_id: str | None = Field(default=None, max_length=255, unique=True)
    payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    credited_at: datetime | None = None
    refunded_cents: int = Field(default=0)
    credits_clawed_back: int = Field(default=0)
    clawback_shortfall: int = Field(default=0)
    failure_reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """Every Stripe webhook event received (deduplicated by event id) and what we did with it."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=64)
    order_id: str | None = Field(default=None, max_length=32, index=True)
    result: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=255)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class PresetVersion(SQLModel, table=True):
    """One immutable version of a generation preset (prompt and parameters) for a provider.

    Editing a preset adds a new version and moves ``active`` to it; jobs keep
    the ids of the versions they ran with (``Job.preset_version_ids``).
    """

    __tablename__ = "preset_versions"
    __table_args__ = (UniqueConstraint("provider", "name", "version", name="uq_preset_versions_pnv"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    version: int
    provider: str = Field(max_length=32)
    model: str = Field(max_length=128)
    prompt: str = Field(max_length=2000)
    strength: float
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class ProviderRequest(SQLModel, table=True):
    """One request a job submitted to an external queue provider (fal: one per preset).

    Written right after submission so a retried job resumes the request
    instead of paying for a new one; ``(job_id, index)`` is unique.
    ``webhook_at`` is set by the first verified webhook for ``request_id``.
    """

    __tablename__ = "provider_requests"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_provider_requests_job_index"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=32)
    index: int
    provider: str = Field(max_length=32)
    model: str = Field(max_length=128)
    request_id: str = Field(max_length=128, unique=True)
    preset_version_id: int | None = None
    status: str = Field(default="SUBMITTED", max_length=16)
    queue_position: int | None = None
    image_count: int | None = None
    submitted_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    webhook_at: datetime | None = None


class Role(StrEnum):
    """Staff roles (``user_roles``); only a super admin grants or removes them."""

    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"


class UserRole(SQLModel, table=True):
    """One staff role held by a user; ``(user_id, role)`` is unique."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_roles_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: Role = Field(sa_type=String(16))
    #: who granted it: ``admin:{id}``, ``cli`` or ``setting:ADMIN_EMAILS``
    granted_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class AdminAction(SQLModel, table=True):
    """Audit log: one row per admin action, written in the same transaction as the action.

    ``before``/``after`` are JSON snapshots of what changed (e.g. ``{"balance": 3}``
    → ``{"balance": 8}``).  ``target_type``/``target_id`` name the object
    (``user``/``42``, ``job``/hex id, ``preset``/``fal:natural``, ``price``/``unlock_cost``…).
    """

    __tablename__ = "admin_actions"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, index=True)
    actor_email: str = Field(max_length=254)
    action: str = Field(max_length=48, index=True)
    target_type: str = Field(max_length=24, index=True)
    target_id: str = Field(max_length=128, index=True)
    reason: str | None = Field(default=None, max_length=255)
    before: dict | None = Field(default=None, sa_column=Column(JSON))
    after: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ApiToken(SQLModel, table=True):
    """A personal access token for the REST API (``lashme.accounts.api_tokens``).

    Only the SHA-256 of the token is stored; the token itself is shown once, when created.
    ``scopes`` is ``"read"`` or ``"read write"``.  A revoked token stays for the audit trail.
    """

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16)
    scopes: str = Field(max_length=32, default="read")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None)


class IdempotentResponse(SQLModel, table=True):
    """A REST API response remembered under the caller's ``Idempotency-Key`` (24 h).

    A retried POST with the same key and body gets the same status and JSON back; the same key with a
    different body is refused (409).
    """

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class EmailToken(SQLModel, table=True):
    """A single-use link emailed to a user (``lashme.accounts.email_tokens``): password reset or verification.

    Only the SHA-256 of the token is stored.  ``email`` is the address it was sent to (a link stops
    working when the account's address changes); ``used_at`` is set when it is spent or superseded.
    """

    __tablename__ = "email_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="users.id", index=True)
    purpose: str = Field(max_length=16)
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)


class UserIdentity(SQLModel, table=True):
    """An external sign-in (OpenID Connect) linked to a user: ``(issuer, subject)`` is unique."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = Field(default=None)


class OidcLogin(SQLModel, table=True):
    """A sign-in with an OpenID provider in progress: made when the browser leaves, spent on its return.

    Keyed by the SHA-256 of the ``state`` (which the browser also holds in an HttpOnly cookie);
    keeps the nonce, the PKCE verifier and where to go afterwards.  Rows live ~10 minutes.
    """

    __tablename__ = "oidc_logins"

    state_hash: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    next_path: str = Field(default="/", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
