"""Read models for the job page: plain dicts the UI can put in state.

Only the caller's own data goes in, and only URLs they may see: previews
and thumbnails (watermarked, low-res) for everyone who owns the job; never
a full-resolution URL (that is issued per download, after the unlock check).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy.engine import Engine

from lashme.credits import unlocks
from lashme.errors import MESSAGES, NotFound
from lashme.files import downloads
from lashme.files.storage import Storage, get_storage
from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue
from lashme.models import JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

PRESET_LABELS = {
    "natural": "Natural",
    "warm_glow": "Warm glow",
    "crisp_detail": "Crisp detail",
    "soft_focus": "Soft focus",
}


@dataclass
class JobView:
    """What the job page shows.

    ``position`` is the 1-based queue position while PENDING (0 = unknown);
    ``variants`` items: id, index, preset, label, filtered, preview_url,
    thumb_url, unlocked.
    """

    id: str
    status: str
    position: int = 0
    error: str = ""
    error_key: str = ""
    variants: list[dict] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """True once the job will not change any more."""
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELED)

    def as_dict(self) -> dict:
        """Plain-dict form for state vars."""
        return asdict(self)


def load_job_view(
    job_id: str,
    *,
    user_id: int | None,
    anon_token: str | None,
    engine: Engine | None = None,
    storage: Storage | None = None,
) -> JobView:
    """The caller's view of ``job_id``.

    Raises:
        NotFound: ``job.not_found`` when the job is missing or not the caller's.
    """
    storage = storage or get_storage()
    ttl = get_settings().url_ttl
    with session_scope(engine) as s:
        job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=anon_token)
        view = JobView(id=job.id, status=str(job.status))
        if job.status == JobStatus.FAILED:
            view.error_key = job.error_key if job.error_key in MESSAGES else "generation.failed"
            view.error = MESSAGES[view.error_key]
        if job.status == JobStatus.PENDING:
            view.position = queue.queue_position(job.id) or 0
        if job.status != JobStatus.DONE:
            return view
        variants = jobs.variants_of(s, job.id)
        owned = (
            unlocks.unlocked_ids(s, user_id=user_id, variant_ids=[v.id for v in variants])
            if user_id is not None and job.user_id == user_id
            else set()
        )
    for v in variants:
        view.variants.append(
            {
                "id": v.id,
                "index": v.index,
                "preset": v.preset,
                "label": PRESET_LABELS.get(v.preset, v.preset.replace("_", " ").title()),
                "label_key": f"preset.{v.preset}",
                "filtered": v.filtered,
                "preview_url": "" if v.filtered else storage.url(v.preview_key, expires_in=ttl),
                "thumb_url": "" if v.filtered else storage.url(v.thumb_key, expires_in=ttl),
                "unlocked": v.id in owned,
            }
        )
    return view


def download_url(
    variant_id: str, *, user_id: int | None, kind: str = "full", engine: Engine | None = None
) -> str:
    """A short-lived download link to an unlocked variant's ``full`` or ``insta`` file.

    The link (``/dl/variant/…``) works only with the signed-in session of
    ``user_id``; the route checks again and redirects to the storage's own
    short-lived URL (:func:`variant_file`).

    Raises:
        NotFound: ``variant.not_found`` (missing, not the caller's, or not
            unlocked by them) or ``variant.not_ready``.
        ValueError: unknown ``kind``.
    """
    variant_file(variant_id, kind, user_id=user_id, engine=engine)
    return downloads.variant_url(variant_id, kind, user_id=user_id)


def variant_file(
    variant_id: str, kind: str, *, user_id: int, engine: Engine | None = None
) -> tuple[str, str]:
    """The storage key and download file name of an unlocked variant's ``full``/``insta`` file.

    Raises:
        NotFound: ``variant.not_found`` (missing, not the user's, not unlocked) or ``variant.not_ready``.
        ValueError: unknown ``kind``.
    """
    if kind not in ("full", "insta"):
        raise ValueError("kind must be full or insta")
    with session_scope(engine) as s:
        variant, job = jobs.get_owned_variant(s, variant_id, user_id=user_id)
        if not unlocks.is_unlocked(s, user_id=user_id, variant_id=variant_id):
            raise NotFound("variant.not_found")
        key = variant.full_key if kind == "full" else variant.insta_key
        if not key:
            raise NotFound("variant.not_ready")
    suffix = "" if kind == "full" else "-4x5"
    return key, f"lashme-{job.id[:8]}-{variant.index + 1}-{variant.preset}{suffix}.jpg"
