"""The fal.ai provider: FLUX image-to-image through fal's queue API (``fal_client``).

Protocol (fal queue API, as spoken by ``fal_client`` 1.0.3): ``POST
https://queue.fal.run/{model}`` with ``Authorization: Key <FAL_KEY>`` returns
``{request_id, status_url, response_url, cancel_url}``; ``GET status_url``
answers ``IN_QUEUE`` (``queue_position``), ``IN_PROGRESS`` or ``COMPLETED``;
``GET response_url`` gives the FLUX output ``{images: [{url, content_type,
width, height}], has_nsfw_concepts: [bool], seed, timings, prompt}``;
``PUT cancel_url`` cancels.

One request per preset (each preset version has its own model, prompt and
strength), submitted with the original as a metadata-free JPEG data URI
(long side <= ``fal_input_max_side``) or, when the storage can presign, a
short-lived URL.  Each request id is persisted through the
:class:`~lashme.providers.base.JobContext` right after submission, so a
retried job polls the same requests instead of paying again.

Errors: HTTP 408/409/429/5xx, timeouts and connection errors are transient
(RQ retries the job, request ids kept); other 4xx are permanent
(``generation.rejected``); unusable output is ``generation.bad_output``; the
whole-job deadline (``fal_deadline`` seconds from the first submission)
cancels the requests and fails with ``generation.timed_out``.

Retries inside ``fal_client``: the library retries 408/409/429 and
nginx-looking 502-504 up to its module-level ``MAX_ATTEMPTS`` (10) with
exponential backoff.  The constructor lowers that process-wide to
``fal_http_attempts`` (default 2) so a brief 429 is absorbed in place and
anything longer falls through to RQ's retry policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import fal_client
import fal_client.client as fal_http
import httpx

from lashme.errors import UploadRejected
from lashme.images import codec, validation, working_copy
from lashme.images.presets import PresetMissing
from lashme.models import utcnow
from lashme.ops.settings import Settings, get_settings
from lashme.providers.base import GeneratedVariant, JobContext, ProviderError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "fal-ai/flux/dev/image-to-image"
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
_PRESIGN_TTL = 900  # seconds a presigned original stays readable for fal


class FalProvider:
    """FLUX image-to-image on fal.ai (see the module docstring for the protocol).

    Args:
        settings: configuration (default: :func:`lashme.ops.settings.get_settings`);
            needs ``fal_key``.
        sleep: function used between status polls (seconds).

    Attributes:
        name: ``"fal"``.
        generative: True: its outputs go through the fidelity guard.

    Raises:
        ValueError: no ``FAL_KEY`` configured.
    """

    name: str = "fal"
    #: FLUX may redraw the work: the job runner checks every output with the fidelity guard
    #: (:mod:`lashme.providers.fidelity`).
    generative: bool = True

    def __init__(self, *, settings: Settings | None = None, sleep=time.sleep) -> None:
        self.settings = settings or get_settings()
        if not self.settings.fal_key:
            raise ValueError("the fal provider needs FAL_KEY")
        fal_http.MAX_ATTEMPTS = max(1, self.settings.fal_http_attempts)
        self._client = fal_client.SyncClient(key=self.settings.fal_key, default_timeout=30.0)
        self._sleep = sleep

    # -- Provider ------------------------------------------------------------------------

    def generate(self, original: bytes, presets: Sequence[str]) -> list[GeneratedVariant]:
        """Run the job without a persisted context (request ids kept in memory only).

        Returns/Raises: as :meth:`generate_for_job`.
        """
        return self.generate_for_job(original, presets, _MemoryContext())

    def generate_for_job(
        self, original: bytes, presets: Sequence[str], ctx: JobContext
    ) -> list[GeneratedVariant]:
        """Submit (or resume) one fal request per preset, poll them, download and validate the outputs.

        Args:
            original: the stored original (metadata-free JPEG).
            presets: preset names in variant order.
            ctx: job context persisting request ids, statuses and the cost record.

        Returns:
            One variant per preset; an NSFW-flagged output is
            ``GeneratedVariant(image=None, filtered_reason="nsfw")``.

        Raises:
            ProviderError: transient for rate limits, 5xx, timeouts, a broken
                result body, or when this attempt ran out of time while fal
                is still working; permanent for validation errors, bad images,
                cancellation and the whole-job deadline.
        """
        s = self.settings
        try:
            versions = ctx.preset_versions(self.name, presets)
        except PresetMissing as exc:
            raise ProviderError(str(exc)) from exc
        handles: dict[int, Any] = {}
        try:
            results = self._submit_and_poll(original, versions, handles, ctx)
        except ProviderError as exc:
            if not exc.transient:
                self._cancel_all(handles, ctx)
            raise
        images = sum(n for _, n in results.values())
        model = versions[0].model if len({v.model for v in versions}) == 1 else "mixed"
        ctx.record_cost(model=model, image_count=images, cost_usd=images * s.fal_price_per_image)
        return [results[i][0] for i in range(len(versions))]

    def _submit_and_poll(
        self, original: bytes, versions: Sequence[Any], handles: dict[int, Any], ctx: JobContext
    ) -> dict[int, tuple[GeneratedVariant, int]]:
        """Resume known requests, submit the missing ones (filling ``handles``), poll to completion."""
        s = self.settings
        try:
            known = ctx.submitted()
            for index, version in enumerate(versions):
                if index in known:
                    handles[index] = self._client.get_handle(version.model, known[index])
            first = ctx.first_submitted_at()
            deadline = (first or utcnow()) + timedelta(seconds=s.fal_deadline)
            attempt_end = time.monotonic() + max(30.0, s.job_timeout - 30.0)  # stay inside RQ's job_timeout
            image_url = None
            for index, version in enumerate(versions):
                if index in handles:
                    continue
                if ctx.is_canceled():
                    raise ProviderError("job canceled before submission")
                image_url = image_url or self._image_input(original, ctx)
                handle = self._client.submit(
                    version.model, _arguments(version, image_url), webhook_url=s.fal_webhook_url
                )
                recorded = ctx.record_submission(
                    index, model=version.model, request_id=handle.request_id, preset_version_id=version.id
                )
                if recorded != handle.request_id:  # another attempt submitted this preset first
                    self._cancel_all({index: handle})
                    handle = self._client.get_handle(version.model, recorded)
                handles[index] = handle
            return self._poll(versions, handles, ctx, deadline=deadline, attempt_end=attempt_end)
        except fal_http.FalClientHTTPError as exc:
            raise _http_error(exc) from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise ProviderError(f"fal unreachable: {exc!r}", transient=True) from exc

    def cancel_request(self, model: str, request_id: str) -> None:
        """``PUT`` fal's cancel URL for ``request_id`` (a finished request answers 400; ignored).

        Raises:
            ProviderError: transient when fal cannot be reached.
        """
        try:
            self._client.cancel(model, request_id)
        except fal_http.FalClientHTTPError as exc:
            if exc.status_code >= 500 or exc.status_code in _TRANSIENT_STATUS:
                raise ProviderError(f"cancel failed: {exc.status_code}", transient=True) from exc
            log.info("fal cancel of %s answered %s", request_id, exc.status_code)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise ProviderError(f"cancel failed: {exc!r}", transient=True) from exc

    # -- steps ---------------------------------------------------------------------------

    def _image_input(self, original: bytes, ctx: JobContext) -> str:
        """A presigned URL of the original, or a JPEG data URI (long side <= fal_input_max_side, no EXIF)."""
        url = ctx.original_url(expires_in=_PRESIGN_TTL)
        if url:
            return url
        try:
            img = working_copy.load_for_processing(original, max_side=self.settings.fal_input_max_side)
        except Exception as exc:  # undecodable original: retrying will not help
            raise ProviderError(f"cannot decode the original: {exc!r}") from exc
        return fal_client.encode(codec.encode_jpeg(img, quality=90), "image/jpeg")

    def _poll(
        self,
        versions: Sequence[Any],
        handles: dict[int, Any],
        ctx: JobContext,
        *,
        deadline: datetime,
        attempt_end: float,
    ) -> dict[int, tuple[GeneratedVariant, int]]:
        """Poll every request until all completed; download each output as soon as it is ready."""
        results: dict[int, tuple[GeneratedVariant, int]] = {}
        while True:
            for index, handle in handles.items():
                if index in results:
                    continue
                status = handle.status(with_logs=False)
                if isinstance(status, fal_client.Queued):
                    ctx.record_status(index, "IN_QUEUE", queue_position=status.position)
                elif isinstance(status, fal_client.InProgress):
                    ctx.record_status(index, "IN_PROGRESS")
                elif isinstance(status, fal_client.Completed):
                    if status.error:
                        raise ProviderError(
                            f"fal request {handle.request_id} failed: {status.error_type}: {status.error}",
                            reason_key="generation.rejected",
                        )
                    results[index] = self._fetch_output(index, versions[index].name, handle)
                    ctx.record_completion(index, image_count=results[index][1])
            if len(results) == len(handles):
                return results
            if ctx.is_canceled():
                raise ProviderError("job canceled while running at fal")
            if utcnow() >= deadline:
                raise ProviderError(
                    f"fal did not finish within {self.settings.fal_deadline}s",
                    reason_key="generation.timed_out",
                )
            if time.monotonic() >= attempt_end:
                raise ProviderError("fal still working at the end of this attempt", transient=True)
            self._sleep(self.settings.fal_poll_interval)

    def _fetch_output(self, index: int, preset: str, handle: Any) -> tuple[GeneratedVariant, int]:
        """GET the result, then download and validate its first image (unless NSFW-flagged).

        Returns:
            ``(variant, number of images fal generated)``.
        """
        try:
            body = handle.get()
            images = body["images"]
            url = images[0]["url"]
            flags = body.get("has_nsfw_concepts")
            # fails closed: the safety checker is always requested, so a missing or null flag is not "safe"
            nsfw = not (isinstance(flags, list) and flags and flags[0] is False)
        except (ValueError, KeyError, IndexError, TypeError) as exc:  # malformed JSON or shape
            raise ProviderError(
                f"malformed fal output for {handle.request_id}: {exc!r}",
                transient=True,
                reason_key="generation.bad_output",
            ) from exc
        if nsfw:
            return GeneratedVariant(index, preset, None, filtered_reason="nsfw"), len(images)
        return GeneratedVariant(index, preset, self._download(url)), len(images)

    def _download(self, url: str):
        """Download one output image (https only, streamed, at most ``fal_output_max_bytes``) and decode it.

        Redirects are followed only to https addresses; the byte cap is enforced
        while reading, so an oversized body is never held in memory whole.

        Returns:
            The image as clean RGB (metadata dropped).

        Raises:
            ProviderError: transient for network errors, 429 and 5xx;
                ``generation.bad_output`` for a non-https address, other
                statuses, an oversized body or an unusable image.
        """
        cap = self.settings.fal_output_max_bytes
        try:
            with (
                httpx.Client(
                    timeout=self.settings.fal_download_timeout,
                    follow_redirects=True,
                    max_redirects=5,
                    event_hooks={"request": [_require_https]},
                ) as client,
                client.stream("GET", url) as resp,
            ):
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise ProviderError(f"output download answered {resp.status_code}", transient=True)
                if resp.status_code != 200:
                    raise ProviderError(
                        f"output download answered {resp.status_code}", reason_key="generation.bad_output"
                    )
                if int(resp.headers.get("content-length") or 0) > cap:
                    raise _too_big(cap)
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > cap:
                        raise _too_big(cap)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise ProviderError(f"output download failed: {exc!r}", transient=True) from exc
        except httpx.TooManyRedirects as exc:
            raise ProviderError(f"output download: {exc}", reason_key="generation.bad_output") from exc
        try:
            return validation.validate_upload(bytes(data), max_bytes=cap, min_side=64)
        except UploadRejected as exc:
            raise ProviderError(
                f"output is not a usable image: {exc.key}", reason_key="generation.bad_output"
            ) from exc

    def _cancel_all(self, handles: dict[int, Any], ctx: JobContext | None = None) -> None:
        """Best-effort cancel of every request (failures are logged).

        With ``ctx``, each request fal accepted the cancel for is recorded as
        ``CANCELED``, so :func:`lashme.jobs.cancel.cancel_open_requests` does not cancel it again.
        """
        for index, handle in handles.items():
            try:
                handle.cancel()
            except Exception as exc:  # noqa: BLE001 - a finished request refuses; never mask the real error
                log.info("fal cancel of %s failed: %s", handle.request_id, exc)
                continue
            if ctx is not None:
                ctx.record_status(index, "CANCELED")


def _require_https(request: httpx.Request) -> None:
    """Request hook for httpx: refuse any output address (first or redirected) that is not https."""
    if request.url.scheme != "https":
        raise ProviderError(
            f"output address is not https: {request.url.scheme}://{request.url.host}",
            reason_key="generation.bad_output",
        )


def _too_big(cap: int) -> ProviderError:
    return ProviderError(f"output is larger than {cap} bytes", reason_key="generation.bad_output")


def _arguments(version: Any, image_url: str) -> dict:
    """FLUX image-to-image arguments for one preset version."""
    params = dict(version.params or {})
    return {
        "image_url": image_url,
        "prompt": version.prompt,
        "strength": version.strength,
        "num_images": int(params.pop("num_images", 1)),
        "image_size": params.pop("image_size", "portrait_4_3"),
        "enable_safety_checker": True,
        **{k: v for k, v in params.items() if k != "enable_safety_checker"},
    }


def _http_error(exc: fal_http.FalClientHTTPError) -> ProviderError:
    """Map a fal HTTP error to a transient or permanent :class:`ProviderError`."""
    code = exc.status_code
    detail = f"fal answered {code}: {str(exc)[:300]}"
    if code >= 500 or code in _TRANSIENT_STATUS:
        return ProviderError(detail, transient=True)
    if code in (400, 413, 422):
        return ProviderError(detail, reason_key="generation.rejected")
    log.error("fal refused the request (%s): check FAL_KEY and the model ids", code)
    return ProviderError(detail)


class _MemoryContext:
    """A :class:`JobContext` without a job: active presets from the database, ids in memory."""

    job_id = ""

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._first: datetime | None = None

    def preset_versions(self, provider: str, presets: Sequence[str]) -> list:
        from lashme.images import presets as preset_store
        from lashme.ops.db import session_scope

        with session_scope() as s:
            rows = preset_store.active_versions(s, provider, presets)
            for row in rows:
                s.expunge(row)
        return rows

    def submitted(self) -> dict[int, str]:
        return dict(self._ids)

    def first_submitted_at(self) -> datetime | None:
        return self._first

    def record_submission(
        self, index: int, *, model: str, request_id: str, preset_version_id: int | None
    ) -> str:
        self._ids.setdefault(index, request_id)
        self._first = self._first or utcnow()
        return self._ids[index]

    def record_status(self, index: int, status: str, *, queue_position: int | None = None) -> None:
        return None

    def record_completion(self, index: int, *, image_count: int) -> None:
        return None

    def record_cost(self, *, model: str, image_count: int, cost_usd: float) -> None:
        return None

    def is_canceled(self) -> bool:
        return False

    def original_url(self, *, expires_in: int) -> str | None:
        return None
