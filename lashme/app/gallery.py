"""The gallery: a user's variants, newest first, with filters, search, sort, favorites and deletion.

Plain Python (no Reflex import).  Every function takes the caller's user id
and only ever reads or changes that user's rows; other people's ids raise
:class:`~lashme.errors.NotFound` exactly like missing ones.

Rows are ``jobs LEFT JOIN variants``: a finished job contributes one item per
variant; a job that has no variants (queued, processing, failed, canceled)
contributes one item with ``variant_id == ""`` so the status filter has
something to show.  Grid items carry thumbnail URLs only (320 px, a few
kB each), never full-resolution files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlmodel import Session

from lashme.errors import DomainError, NotFound
from lashme.files.storage import Storage
from lashme.jobs import lifecycle as jobs
from lashme.models import FINAL_JOB_STATUSES, Job, JobStatus, Unlock, Variant

PAGE_SIZE = 24
SORTS = ("newest", "oldest", "favorites")
#: preset code -> labels searched (English and Russian, lower case)
PRESET_SEARCH_LABELS: dict[str, tuple[str, ...]] = {
    "natural": ("natural", "естественный"),
    "warm_glow": ("warm glow", "тёплое сияние", "теплое сияние"),
    "crisp_detail": ("crisp detail", "чёткие детали", "четкие детали"),
    "soft_focus": ("soft focus", "мягкий фокус"),
}
_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), (1, 2, 3)),  # 2026-11-21
    (re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$"), (3, 2, 1)),  # 21.11.2026 / 21/11/2026
)


@dataclass(frozen=True)
class GalleryQuery:
    """What to list.

    Attributes:
        preset: only variants of this preset code ("" = all).
        favorites: only favorite variants.
        unlocked: only variants the user has unlocked.
        status: only jobs in this :class:`~lashme.models.JobStatus` ("" = all).
        search: free text: a preset name (English or Russian), a date
            (``YYYY-MM-DD`` or ``DD.MM.YYYY``, UTC day of the job) or part of the job's note.
        sort: ``newest`` | ``oldest`` | ``favorites`` (favorites first, then newest).
        offset: rows to skip (pagination; pages are :data:`PAGE_SIZE` rows).
        limit: rows to return (1..100).
    """

    preset: str = ""
    favorites: bool = False
    unlocked: bool = False
    status: str = ""
    search: str = ""
    sort: str = "newest"
    offset: int = 0
    limit: int = PAGE_SIZE


@dataclass
class GalleryItem:
    """One grid tile (plain values only, safe to put in UI state)."""

    job_id: str
    variant_id: str
    index: int
    preset: str
    status: str
    favorite: bool
    unlocked: bool
    filtered: bool
    thumb_key: str | None
    created_at: datetime
    note: str = ""
    error_key: str = ""


@dataclass
class GalleryPage:
    """A page of items; ``has_more`` is True when another page follows."""

    items: list[GalleryItem] = field(default_factory=list)
    has_more: bool = False
    total: int = 0


def parse_date(text: str) -> datetime | None:
    """``2026-11-21`` / ``21.11.2026`` → aware UTC midnight of that day; None if not a date."""
    text = text.strip()
    for pattern, (yi, mi, di) in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return datetime(int(m.group(yi)), int(m.group(mi)), int(m.group(di)), tzinfo=UTC)
            except ValueError:
                return None
    return None


def _search_clause(text: str):
    text = text.strip()[:100]
    if not text:
        return None
    day = parse_date(text)
    if day is not None:
        return and_(Job.created_at >= day, Job.created_at < day + timedelta(days=1))
    needle = text.lower()
    presets = [code for code, labels in PRESET_SEARCH_LABELS.items() if any(needle in lab for lab in labels)]
    if needle.replace(" ", "_") in PRESET_SEARCH_LABELS:
        presets.append(needle.replace(" ", "_"))
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    clauses = [func.lower(Job.note).like(f"%{escaped}%", escape="\\")]
    if presets:
        clauses.append(Variant.preset.in_(presets))
    return or_(*clauses)


def _filtered(user_id: int, q: GalleryQuery):
    unlocked = select(Unlock.id).where(Unlock.user_id == user_id, Unlock.variant_id == Variant.id).exists()
    stmt = (
        select(Job, Variant, unlocked.label("unlocked"))
        .select_from(Job)
        .outerjoin(Variant, Variant.job_id == Job.id)
        .where(Job.user_id == user_id)
    )
    if q.preset:
        stmt = stmt.where(Variant.preset == q.preset[:64])
    if q.favorites:
        stmt = stmt.where(Variant.favorite.is_(True))
    if q.unlocked:
        stmt = stmt.where(unlocked)
    if q.status:
        stmt = stmt.where(Job.status == q.status[:16])
    clause = _search_clause(q.search)
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt


def list_items(session: Session, *, user_id: int, query: GalleryQuery = GalleryQuery()) -> GalleryPage:
    """One page of the user's gallery.

    Args:
        session: an open database session.
        user_id: the caller (from the server-side session).
        query: filters, search, sort and page window; unknown sorts mean ``newest``.

    Returns:
        The items (at most ``query.limit``), whether more follow, and the total matching count.
    """
    limit = min(max(1, query.limit), 100)
    offset = max(0, query.offset)
    stmt = _filtered(user_id, query)
    fav = func.coalesce(Variant.favorite, false())
    newest = [Job.created_at.desc(), Job.id.desc(), Variant.index.asc()]
    if query.sort == "oldest":
        order = [Job.created_at.asc(), Job.id.asc(), Variant.index.asc()]
    elif query.sort == "favorites":
        order = [fav.desc(), *newest]
    else:
        order = newest
    rows = session.execute(stmt.order_by(*order).offset(offset).limit(limit + 1)).all()
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = [
        GalleryItem(
            job_id=job.id,
            variant_id=v.id if v else "",
            index=v.index if v else -1,
            preset=v.preset if v else "",
            status=str(job.status),
            favorite=bool(v and v.favorite),
            unlocked=bool(unlocked),
            filtered=bool(v and v.filtered),
            thumb_key=v.thumb_key if v else None,
            created_at=job.created_at,
            note=job.note or "",
            error_key=job.error_key or "",
        )
        for job, v, unlocked in rows[:limit]
    ]
    return GalleryPage(items=items, has_more=len(rows) > limit, total=total)


def presets_of(session: Session, *, user_id: int) -> list[str]:
    """The preset codes that occur in the user's variants (for the preset filter), sorted."""
    rows = session.execute(
        select(Variant.preset).join(Job, Job.id == Variant.job_id).where(Job.user_id == user_id).distinct()
    ).scalars()
    return sorted(rows)


def set_favorite(session: Session, *, user_id: int, variant_id: str, favorite: bool) -> bool:
    """Mark or unmark the user's variant as a favorite; returns the stored value.

    Raises:
        NotFound: ``variant.not_found`` (missing or someone else's).
    """
    variant, _ = jobs.get_owned_variant(session, variant_id, user_id=user_id)
    session.execute(
        update(Variant)
        .where(Variant.id == variant.id)
        .values(favorite=bool(favorite))
        .execution_options(synchronize_session=False)
    )
    return bool(favorite)


def set_note(session: Session, *, user_id: int, job_id: str, note: str) -> str:
    """Store the user's note on their job (trimmed to 200 characters); returns it.

    Raises:
        NotFound: ``job.not_found``.
    """
    job = jobs.get_owned_job(session, job_id, user_id=user_id, anon_token=None)
    job.note = " ".join(str(note).split())[:200] or None
    session.add(job)
    return job.note or ""


def _variant_folder(key: str | None) -> str | None:
    """``u1/J/variants/2/full.jpg`` → ``u1/J/variants/2/``."""
    if not key or "/variants/" not in key:
        return None
    return key.rsplit("/", 1)[0] + "/"


def job_storage_prefix(job: Job) -> str:
    """The storage folder holding a job's original and variant files (``u{id}/{job}/``)."""
    return job.original_key.rsplit("/", 1)[0] + "/"


def delete_variant(session: Session, *, user_id: int, variant_id: str, storage: Storage) -> str:
    """Delete one of the user's variants: its stored files first, then its row.

    Ledger entries and unlock records stay (history); when it was the job's
    last variant the whole job goes too.

    Returns:
        The id of the variant's job.

    Raises:
        NotFound: ``variant.not_found``.
        DomainError: ``job.busy`` while its job is still running.
        StorageError: the files could not be deleted; the rows are kept so the call can be retried.
    """
    variant, job = jobs.get_owned_variant(session, variant_id, user_id=user_id)
    if job.status not in FINAL_JOB_STATUSES:
        raise DomainError("job.busy")
    folder = _variant_folder(variant.full_key or variant.preview_key or variant.thumb_key)
    if folder:
        storage.delete_prefix(folder)
    session.execute(delete(Variant).where(Variant.id == variant.id))
    remaining = session.execute(select(func.count()).where(Variant.job_id == job.id)).scalar_one()
    if remaining == 0:
        _delete_job_rows(session, job, storage)
    return job.id


def delete_job(session: Session, *, user_id: int, job_id: str, storage: Storage) -> None:
    """Delete the user's finished job: every stored file under its folder, then its rows.

    Rows go through :func:`lashme.jobs.lifecycle.delete_job_rows` (unlocks, variants,
    events, provider requests, the job); ledger entries stay.

    Raises:
        NotFound: ``job.not_found``.
        DomainError: ``job.busy`` while the job is queued or processing (cancel it first).
        StorageError: the files could not be deleted; nothing else changed.
    """
    job = jobs.get_owned_job(session, job_id, user_id=user_id, anon_token=None)
    if job.status not in FINAL_JOB_STATUSES:
        raise DomainError("job.busy")
    _delete_job_rows(session, job, storage)


def _delete_job_rows(session: Session, job: Job, storage: Storage) -> None:
    storage.delete_prefix(job_storage_prefix(job))
    jobs.delete_job_rows(session, job.id)


def owned_variant(session: Session, *, user_id: int, variant_id: str) -> tuple[Variant, Job]:
    """The user's variant and its job.

    Raises:
        NotFound: ``variant.not_found``.
    """
    return jobs.get_owned_variant(session, variant_id, user_id=user_id)


def assert_done(job: Job) -> None:
    """Raise ``NotFound("job.not_done")`` unless the job is DONE."""
    if job.status != JobStatus.DONE:
        raise NotFound("job.not_done")
