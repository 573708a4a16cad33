"""Upload a photo of the master's work: the server checks it, stores a clean copy and queues a job.

Used by the home page's drop zone (and the REST API's multipart upload).
"""

from __future__ import annotations

from dataclasses import dataclass

from lashme.app.caller import Caller
from lashme.errors import AuthError
from lashme.jobs import uploads
from lashme.ops.settings import get_settings


@dataclass(frozen=True)
class Submitted:
    """A job accepted for the caller.

    Attributes:
        job_id: the new job's id (32 hex characters).
        status: its status now (``PENDING``).
        queued_later: the queue (Redis) was down: the job waits in the database and the
            sweeper queues it once Redis answers (say "starting soon").
    """

    job_id: str
    status: str
    queued_later: bool = False


def max_bytes() -> int:
    """The largest upload accepted, in bytes (read at most this + 1 bytes from a client)."""
    return get_settings().max_upload_bytes


def submit_photo(caller: Caller, data: bytes) -> Submitted:
    """Validate ``data`` (hostile), store the re-encoded original and queue a job owned by the caller.

    A signed-in user owns the job; a visitor's job belongs to their browser
    token (and is claimed when they sign up or in). Blocking work: call it
    off the event loop.

    Args:
        caller: who uploads; a visitor must carry a visitor token.
        data: the uploaded bytes, at most :func:`max_bytes` + 1 (more is refused as too large).

    Raises:
        UploadRejected: not an acceptable photo (``upload.*``).
        DailyLimitReached: ``limits.daily_reached``.
        InsufficientCredits: ``credits.insufficient_generation`` when a generation price is set.
        AuthError: ``auth.blocked``, or ``auth.required`` for a visitor without a token.
        NoActivePresets: ``generation.no_active_presets``.
    """
    if caller.user_id is None and not caller.anon_token:
        raise AuthError("auth.required")
    job = uploads.submit_photo(
        data,
        user_id=caller.user_id,
        anon_token=None if caller.user_id is not None else caller.anon_token,
        client_ip=caller.ip,
    )
    return Submitted(job_id=job.id, status=str(job.status), queued_later=uploads.queue_deferred(job.id))
