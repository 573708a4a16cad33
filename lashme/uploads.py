"""Accept an uploaded photo: validate by decoding, store a clean copy, create and queue a job."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from lashme import imaging, jobs, queue
from lashme.db import session_scope
from lashme.generation import fail
from lashme.models import Job, new_id
from lashme.providers.registry import presets_for
from lashme.settings import get_settings
from lashme.storage import Storage, get_storage
from lashme.storage.base import job_prefix, original_key

log = logging.getLogger(__name__)


def submit_photo(
    data: bytes,
    *,
    user_id: int | None,
    anon_token: str | None,
    engine: Engine | None = None,
    storage: Storage | None = None,
    enqueue: bool = True,
) -> Job:
    """Validate ``data``, store the re-encoded original, insert a PENDING job and queue it.

    The stored original has EXIF orientation applied and no metadata at all
    (no GPS).  Nothing is stored when validation fails.

    Raises:
        UploadRejected: the bytes are not an acceptable photo (see ``imaging.validate_upload``).
        ValueError: no owner.
    """
    s = get_settings()
    img = imaging.validate_upload(
        data, max_bytes=s.max_upload_bytes, max_pixels=s.max_upload_pixels, min_side=s.min_upload_side
    )
    if user_id is None and not anon_token:
        raise ValueError("a job needs an owner")
    storage = storage or get_storage()
    job_id = new_id()
    key = original_key(job_prefix(job_id, user_id))
    storage.put(key, imaging.encode_jpeg(img, quality=95))
    provider = s.provider_name
    with session_scope(engine) as session:
        job = jobs.create_job(
            session,
            job_id=job_id,
            user_id=user_id,
            anon_token=anon_token,
            provider=provider,
            presets=presets_for(provider),
            original_key=key,
            width=img.width,
            height=img.height,
        )
    if enqueue:
        try:
            queue.enqueue_generation(job.id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the job must not hang
            log.exception("enqueue failed for job %s", job.id)
            fail(job.id, error_key="generation.queue_unavailable", detail=str(exc), engine=engine)
            with session_scope(engine) as session:
                job = session.get(Job, job.id)
    return job
