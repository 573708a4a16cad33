"""The gallery: a user's variants with filters, search, sort, favorites, notes, deletion and the ZIP link.

Signed-in users only.  Every use-case takes the :class:`~lashme.app.caller.Caller`, owns its
transaction and only ever reads or changes the caller's rows; other people's ids raise
:class:`~lashme.errors.NotFound` exactly like missing ones (a visitor gets ``auth.required``).

Rows are ``jobs LEFT JOIN variants``: a finished job contributes one item per
variant; a job that has no variants (queued, processing, failed, canceled)
contributes one item with ``variant_id == ""`` so the status filter has
something to show.  Tiles carry signed thumbnail URLs only (320 px, a few
kB each), never full-resolution files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from babel.dates import parse_date as babel_parse_date
from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlmodel import Session

from lashme import i18n
from lashme.app import downloads as app_downloads
from lashme.app.caller import Caller
from lashme.app.paging import Page, paginate
from lashme.credits import unlocks
from lashme.errors import DomainError, NotFound
from lashme.files import downloads
from lashme.files.storage import Storage, get_storage
from lashme.files.storage.base import StorageError
from lashme.jobs import deletion, fullres
from lashme.jobs import lifecycle as jobs
from lashme.models import FINAL_JOB_STATUSES, Job, JobStatus, Unlock, Variant
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

PAGE_SIZE = 24
#: variants one selection / favourites ZIP holds at most
MAX_ZIP_ENTRIES = downloads.MAX_ZIP_ENTRIES
SORTS = ("newest", "oldest", "favorites")
#: preset code -> labels searched (English and Russian, lower case)
PRESET_SEARCH_LABELS: dict[str, tuple[str, ...]] = {
    "natural": ("natural", "естественный"),
    "warm_glow": ("warm glow", "тёплое сияние", "теплое сияние"),
    "crisp_detail": ("crisp detail", "чёткие детали", "четкие детали"),
    "soft_focus": ("soft focus", "мягкий фокус"),
}
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{2,4}$")
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
        page_token: where the page starts: a token from an earlier :class:`GalleryPage` of the same
            sort ("" or an unusable token = the first page; keyset pages, :mod:`lashme.app.paging`).
        limit: rows to return (1..100).
        locale: the language the gallery shows dates in (``en``/``ru``): a searched date is read
            the way it is shown (:func:`parse_date`).
    """

    preset: str = ""
    favorites: bool = False
    unlocked: bool = False
    status: str = ""
    search: str = ""
    sort: str = "newest"
    page_token: str = ""
    limit: int = PAGE_SIZE
    locale: str = ""


#: job statuses a gallery may be filtered by
STATUSES = tuple(st.value for st in JobStatus)


@dataclass(frozen=True)
class GalleryTile:
    """One grid tile (plain values only, safe to put in UI state).

    Attributes:
        job_id: the job.
        variant_id: the variant ("" for a job without variants: queued, running, failed, canceled).
        index: the variant's index in its job (-1 without a variant).
        preset: preset code ("" without a variant).
        label_key: catalog key of the preset's name ("" without a variant).
        status: the job's status.
        final: the job will not change any more (DONE, FAILED, CANCELED).
        favorite: marked as a favorite.
        unlocked: the caller has unlocked it.
        filtered: held back by the safety filter.
        thumb_url: signed URL of the 320 px thumbnail ("" when there is none to show): the clean
            one once the caller unlocked the variant and its full size is rendered, else watermarked.
        created_at: when the job was uploaded (aware UTC).
        note: the job's note.
        error_key: catalog key of why the job failed ("" otherwise).
        fullres: the full-size render of an unlocked variant (``pending``, ``rendering``, ``ready``,
            ``failed``), ``none`` while locked.
        clean: ``thumb_url`` is the clean thumbnail.
    """

    job_id: str
    variant_id: str
    index: int
    preset: str
    label_key: str
    status: str
    final: bool
    favorite: bool
    unlocked: bool
    filtered: bool
    thumb_url: str
    created_at: datetime
    note: str = ""
    error_key: str = ""
    fullres: str = fullres.NONE
    clean: bool = False

    @property
    def rendering(self) -> bool:
        """True while the clean full-size files of this unlocked variant are being made."""
        return self.fullres in (fullres.PENDING, fullres.RENDERING)


@dataclass(frozen=True)
class GalleryPage:
    """A page of tiles.

    Attributes:
        items: the tiles (at most the query's ``limit``).
        has_more: another page follows.
        next_page_token: token of the page after this one (None on the last page).
        prev_page_token: token of the page before this one (None on the first page).
        total: how many tiles match the filters.
        presets: preset codes occurring in the caller's whole gallery (for the preset filter), sorted.
    """

    items: tuple[GalleryTile, ...] = ()
    has_more: bool = False
    total: int = 0
    presets: tuple[str, ...] = ()
    next_page_token: str | None = None
    prev_page_token: str | None = None


def parse_date(text: str, locale: str | None = None) -> datetime | None:
    """A searched date → aware UTC midnight of that day; None if not a date.

    Accepts the date as the gallery shows it in ``locale`` (Babel's short date: ``21.11.2026`` in
    Russian, ``11/21/26`` in English; a time after a comma is ignored, so a tile's whole date
    label can be pasted), then ``2026-11-21`` and ``21.11.2026`` / ``21/11/2026`` in any language.
    """
    text = text.strip().split(",")[0].strip()
    if locale and _DATE_LIKE.match(text):
        try:
            day = babel_parse_date(text, locale=i18n.babel_locale(locale))
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        except (ValueError, IndexError):
            pass
    for pattern, (yi, mi, di) in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return datetime(int(m.group(yi)), int(m.group(mi)), int(m.group(di)), tzinfo=UTC)
            except ValueError:
                return None
    return None


def _search_clause(text: str, locale: str | None = None):
    text = text.strip()[:100]
    if not text:
        return None
    day = parse_date(text, locale)
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
    clause = _search_clause(q.search, q.locale)
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt


def _rows(session: Session, user_id: int, query: GalleryQuery) -> Page[tuple]:
    """One keyset page: items are ``(job, variant | None, unlocked)``, ``total`` counts every match."""
    limit = min(max(1, query.limit), 100)
    fav = func.coalesce(Variant.favorite, false())
    index = func.coalesce(Variant.index, -1)  # a job without variants has one row: NULL index
    newest = [Job.created_at.desc(), Job.id.desc(), index.asc()]
    sort = query.sort if query.sort in SORTS else "newest"
    if sort == "oldest":
        order = [Job.created_at.asc(), Job.id.asc(), index.asc()]
    elif sort == "favorites":
        order = [fav.desc(), *newest]
    else:
        order = newest
    return paginate(
        session,
        _filtered(user_id, query),
        order=order,
        token=query.page_token,
        limit=limit,
        scope=f"gallery.{sort}",
        count=True,
    )


def _thumb_url(v: Variant | None, unlocked: bool, storage: Storage, ttl: int) -> str:
    """The tile's signed thumbnail: clean once unlocked and rendered, else watermarked ("" when none)."""
    if v is None or v.filtered:
        return ""
    key = fullres.display_keys(v, unlocked=unlocked).thumb_key
    return storage.url(key, expires_in=ttl) if key else ""


def search(
    caller: Caller, query: GalleryQuery = GalleryQuery(), *, storage: Storage | None = None
) -> GalleryPage:
    """One page of the caller's gallery.

    Args:
        caller: a signed-in user.
        query: filters, search, sort and page window; unknown sorts mean ``newest``, unknown
            statuses mean any.
        storage: storage backend (tests).

    Returns:
        The tiles, whether more follow, the total matching count and the caller's preset codes.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    if query.status and query.status not in STATUSES:
        query = replace(query, status="")
    storage, ttl = storage or get_storage(), get_settings().url_ttl
    with session_scope() as s:
        page = _rows(s, user_id, query)
        rows = page.items
        codes = s.execute(
            select(Variant.preset)
            .join(Job, Job.id == Variant.job_id)
            .where(Job.user_id == user_id)
            .distinct()
        ).scalars()
        presets = tuple(sorted(codes))
    items = tuple(
        GalleryTile(
            job_id=job.id,
            variant_id=v.id if v else "",
            index=v.index if v else -1,
            preset=v.preset if v else "",
            label_key=f"preset.{v.preset}" if v else "",
            status=str(job.status),
            final=job.status in FINAL_JOB_STATUSES,
            favorite=bool(v and v.favorite),
            unlocked=bool(unlocked),
            filtered=bool(v and v.filtered),
            thumb_url=_thumb_url(v, bool(unlocked), storage, ttl),
            created_at=job.created_at,
            note=job.note or "",
            error_key=i18n.error_key(job.error_key) if job.error_key else "",
            fullres=fullres.status_of(v).state if v is not None and unlocked else fullres.NONE,
            clean=bool(
                v is not None and not v.filtered and fullres.display_keys(v, unlocked=bool(unlocked)).clean
            ),
        )
        for job, v, unlocked in rows
    )
    return GalleryPage(
        items=items,
        has_more=page.has_more,
        total=page.total or 0,
        presets=presets,
        next_page_token=page.next_token,
        prev_page_token=page.prev_token,
    )


def set_favorite(caller: Caller, variant_id: str, favorite: bool) -> bool:
    """Mark or unmark the caller's variant as a favorite; returns the stored value.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (missing or someone else's).
    """
    user_id = caller.require_user()
    with session_scope() as s:
        variant, _ = jobs.get_owned_variant(s, str(variant_id)[:32], user_id=user_id)
        s.execute(
            update(Variant)
            .where(Variant.id == variant.id)
            .values(favorite=bool(favorite))
            .execution_options(synchronize_session=False)
        )
    return bool(favorite)


def set_note(caller: Caller, job_id: str, note: str) -> str:
    """Store the caller's note on their job (spaces collapsed, at most 200 characters); returns it.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``job.not_found``.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        job = jobs.get_owned_job(s, str(job_id)[:32], user_id=user_id, anon_token=None)
        job.note = " ".join(str(note).split())[:200] or None
        s.add(job)
        return job.note or ""


def _variant_folder(key: str | None) -> str | None:
    """``u1/J/variants/2/full.jpg`` → ``u1/J/variants/2/``."""
    if not key or "/variants/" not in key:
        return None
    return key.rsplit("/", 1)[0] + "/"


def delete_variant(caller: Caller, variant_id: str, *, storage: Storage | None = None) -> str:
    """Delete one of the caller's variants: its stored files first, then its row.

    Ledger entries and unlock records stay (history); when it was the job's
    last variant the whole job goes too.

    Returns:
        The id of the variant's job.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found``.
        DomainError: ``job.busy`` while its job is still running; ``generation.storage_failed`` when
            the files could not be deleted (the rows are kept so the call can be retried).
    """
    user_id = caller.require_user()
    storage = storage or get_storage()
    with session_scope() as s:
        variant, job = jobs.get_owned_variant(s, str(variant_id)[:32], user_id=user_id)
        if job.status not in FINAL_JOB_STATUSES:
            raise DomainError("job.busy")
        folder = _variant_folder(variant.full_key or variant.preview_key or variant.thumb_key)
        if folder:
            _delete_files(storage, folder)
        s.execute(delete(Variant).where(Variant.id == variant.id))
        remaining = s.execute(select(func.count()).where(Variant.job_id == job.id)).scalar_one()
        if remaining == 0:
            deletion.delete_job(s, job.id, storage=storage)
        return job.id


def delete_job(caller: Caller, job_id: str, *, storage: Storage | None = None) -> None:
    """Delete the caller's finished job: every stored file under its folder, then its rows.

    Files and rows go through the one delete-job path, :func:`lashme.jobs.deletion.delete_job`
    (unlocks, variants, events, provider requests, the job); ledger entries stay.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``job.not_found``.
        DomainError: ``job.busy`` while the job is queued or processing (cancel it first);
            ``generation.storage_failed`` when the files could not be deleted (nothing else changed).
    """
    user_id = caller.require_user()
    storage = storage or get_storage()
    with session_scope() as s:
        job = jobs.get_owned_job(s, str(job_id)[:32], user_id=user_id, anon_token=None)
        if job.status not in FINAL_JOB_STATUSES:
            raise DomainError("job.busy")
        deletion.delete_job(s, job.id, storage=storage)


def _delete_files(storage: Storage, prefix: str) -> None:
    try:
        storage.delete_prefix(prefix)
    except StorageError as exc:
        raise DomainError("generation.storage_failed") from exc


def zip_link(caller: Caller, job_id: str) -> str:
    """A short-lived link (``/dl/zip/…``) to a ZIP of the job's unlocked full-size variants.

    The link works only together with the caller's sign-in session (the route checks again).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``job.not_found`` or ``gallery.nothing_unlocked``.
    """
    user_id = caller.require_user()
    job_id = str(job_id)[:32]
    with session_scope() as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=None)
        ids = [v.id for v in jobs.variants_of(s, job.id)]
        if not unlocks.unlocked_ids(s, user_id=user_id, variant_ids=ids):
            raise NotFound("gallery.nothing_unlocked")
    return downloads.zip_url(job_id, user_id=user_id)


@dataclass(frozen=True)
class SelectionZip:
    """A ZIP link for chosen variants (or all favourites), and what it leaves out.

    Locked variants are left out, not unlocked here: an unlock spends credits and is confirmed
    one variant at a time on the variant or job page.  The counts let the page say so plainly.

    Attributes:
        url: signed, expiring ``/dl/zip-set?…`` link, usable only with the caller's sign-in session.
        count: full-size files in the ZIP.
        locked: chosen variants left out because the caller has not unlocked them.
        preparing: unlocked variants left out because their clean full size is still being made.
        capped: favourites beyond :data:`~lashme.files.downloads.MAX_ZIP_ENTRIES` left out (the
            newest ones are in).
    """

    url: str
    count: int
    locked: int = 0
    preparing: int = 0
    capped: int = 0


def zip_selection(
    caller: Caller, variant_ids: Sequence[str] = (), *, favorites: bool = False
) -> SelectionZip:
    """A short-lived link to a ZIP of the caller's chosen variants, or of all their favourites.

    The ZIP holds only the caller's own unlocked variants at full size (clean, as rendered after
    the unlock); the download route checks ownership and unlocks again when it streams the files.

    Args:
        caller: a signed-in user.
        variant_ids: the chosen variants (1..100) when ``favorites`` is False.
        favorites: every variant the caller marked as a favorite instead.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``variant.not_found`` (an id missing or someone else's, nothing or too much
            chosen); ``gallery.zip_nothing_unlocked`` when none of them is unlocked and ready.
    """
    kind, ids, user_id, plan = app_downloads.plan_zip(caller, variant_ids, favorites=favorites)
    return SelectionZip(
        url=downloads.set_zip_url(kind, list(dict.fromkeys(ids)), user_id=user_id),
        count=len(plan.entries),
        locked=plan.locked,
        preparing=plan.preparing,
        capped=plan.capped,
    )
