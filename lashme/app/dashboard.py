"""The dashboard: the caller's recent jobs in plain language and one page of their credit ledger.

A finished job's row carries its variants' thumbnails (:class:`Thumb`): the clean thumbnail of a
variant the caller unlocked once its full size is rendered, else the watermarked one.

Cancel and retry are the job page's use-cases (:func:`lashme.app.job.cancel`,
:func:`lashme.app.job.retry`); the dashboard offers them on its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from lashme import i18n
from lashme.app import job as app_job
from lashme.app.caller import Caller
from lashme.app.credits import LedgerPage, read_ledger_page
from lashme.credits import unlocks
from lashme.files.storage import Storage, get_storage
from lashme.jobs import fullres, queue
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings


@dataclass(frozen=True)
class Thumb:
    """One variant's thumbnail on a recent job's row.

    Attributes:
        variant_id: the variant (its page is ``/variant/{id}``).
        url: signed URL of the <= 320 px thumbnail: clean once unlocked and rendered, else watermarked.
        unlocked: the caller has unlocked it.
        clean: ``url`` is the clean thumbnail.
        fullres: the full-size render once unlocked (``pending`` … ``ready``), ``none`` while locked.
    """

    variant_id: str
    url: str
    unlocked: bool
    clean: bool
    fullres: str = fullres.NONE


@dataclass(frozen=True)
class JobSummary:
    """One row of "recent jobs".

    Attributes:
        id: job id.
        status: job status.
        created_at: when it was uploaded (aware UTC).
        stage_key: catalog key saying what is happening (``dash.stage_*``, the plural family
            ``plural.variants_ready`` for a DONE job, or the job's error key).
        stage_n: the key's ``{n}`` (queue position or variant count).
        can_cancel: it is waiting in the queue.
        can_retry: it failed or was canceled and may run again (:func:`lashme.app.job.retry_offer`).
        thumbs: a DONE job's variants with a picture, in page order (empty otherwise).
        retry_free: that retry is free (it failed on our side).
    """

    id: str
    status: str
    created_at: datetime
    stage_key: str
    stage_n: int
    can_cancel: bool
    can_retry: bool
    thumbs: tuple[Thumb, ...] = ()
    retry_free: bool = False


@dataclass(frozen=True)
class Dashboard:
    """What ``/dashboard`` shows besides the header."""

    recent: tuple[JobSummary, ...]
    ledger: LedgerPage

    @property
    def rendering(self) -> bool:
        """True while a clean full-size file of an unlocked variant shown here is being made."""
        return any(t.fullres in (fullres.PENDING, fullres.RENDERING) for j in self.recent for t in j.thumbs)


def _thumbs(
    session: Session, user_id: int, job_ids: list[str], storage: Storage
) -> dict[str, tuple[Thumb, ...]]:
    """The thumbnails of the DONE jobs ``job_ids``: ``{job_id: thumbs}``."""
    if not job_ids:
        return {}
    variants = (
        session.execute(
            select(Variant).where(Variant.job_id.in_(job_ids)).order_by(Variant.job_id, Variant.index)
        )
        .scalars()
        .all()
    )
    owned = unlocks.unlocked_ids(session, user_id=user_id, variant_ids=[v.id for v in variants])
    ttl = get_settings().url_ttl
    out: dict[str, list[Thumb]] = {}
    for v in variants:
        if v.filtered:
            continue
        keys = fullres.display_keys(v, unlocked=v.id in owned)
        if not keys.thumb_key:
            continue
        out.setdefault(v.job_id, []).append(
            Thumb(
                variant_id=v.id,
                url=storage.url(keys.thumb_key, expires_in=ttl),
                unlocked=v.id in owned,
                clean=keys.clean,
                fullres=fullres.status_of(v).state if v.id in owned else fullres.NONE,
            )
        )
    return {job_id: tuple(thumbs) for job_id, thumbs in out.items()}


def _recent(
    session: Session, user_id: int, limit: int, positions: bool, storage: Storage | None = None
) -> tuple[JobSummary, ...]:
    limit = min(max(1, limit), 50)
    rows = session.execute(
        select(Job, func.count(Variant.id))
        .outerjoin(Variant, Variant.job_id == Job.id)
        .where(Job.user_id == user_id)
        .group_by(Job.id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    ).all()
    thumbs = (
        _thumbs(session, user_id, [j.id for j, _ in rows if j.status == JobStatus.DONE], storage)
        if storage is not None
        else {}
    )
    offers = app_job.retry_offers(session, [j for j, _ in rows])
    out = []
    for job, n_variants in rows:
        status = JobStatus(job.status)
        n = 0
        if status == JobStatus.PENDING:
            n = (queue.queue_position(job.id) or 0) if positions else 0
            key = "dash.stage_queue_n" if n else "dash.stage_queue"
        elif status == JobStatus.PROCESSING:
            key = "dash.stage_processing"
        elif status == JobStatus.DONE:
            key, n = "plural.variants_ready", n_variants  # ngettext: "1 вариант готов"
        elif status == JobStatus.FAILED:
            key = i18n.error_key(job.error_key)
        else:
            key = "dash.stage_canceled"
        out.append(
            JobSummary(
                id=job.id,
                status=str(status),
                created_at=job.created_at,
                stage_key=key,
                stage_n=n,
                can_cancel=status == JobStatus.PENDING,
                can_retry=offers[job.id].allowed,
                thumbs=thumbs.get(job.id, ()),
                retry_free=offers[job.id].allowed and offers[job.id].free,
            )
        )
    return tuple(out)


def recent_jobs(caller: Caller, *, limit: int = 10, positions: bool = True) -> tuple[JobSummary, ...]:
    """The caller's newest jobs (at most ``limit``, 1..50) with what is happening to each.

    Args:
        caller: a signed-in user.
        limit: rows wanted.
        positions: look up the queue position of waiting jobs in Redis.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return _recent(s, user_id, limit, positions)


def load(
    caller: Caller, *, ledger_token: object = None, page_size: int = 10, storage: Storage | None = None
) -> Dashboard:
    """The dashboard: the 10 newest jobs (with thumbnails) and the ledger page ``ledger_token`` names.

    ``ledger_token`` is a page token of an earlier :class:`~lashme.app.credits.LedgerPage` (None or
    unusable: the newest entries).

    Read in one transaction.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    storage = storage or get_storage()
    with session_scope() as s:
        return Dashboard(
            recent=_recent(s, user_id, 10, True, storage),
            ledger=read_ledger_page(s, user_id, ledger_token, page_size),
        )
