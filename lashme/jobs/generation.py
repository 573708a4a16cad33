"""The worker's job: original → provider → stored variant files → DONE.

``run(job_id)`` is safe to call any number of times (at-least-once
delivery): a finished job is left alone and variant rows are upserted by
``(job_id, index)``, so a retried job never duplicates variants.  Transient
provider errors are re-raised for RQ to retry while attempts remain;
everything else ends the job FAILED with a message key the user can read.

Per-run lease: the claim increments the job's ``run_token`` (see
:mod:`lashme.jobs.lifecycle`) and the run keeps it.  Its files go to keys
carrying the token (:func:`lashme.files.storage.base.run_variant_key`), and
the commit that publishes them (DONE, the variant rows, the credit capture)
as well as its own FAILED or retry transitions require the token unchanged.
A run that was declared dead while its job went to a newer run therefore
changes nothing anyone can see (:class:`lashme.jobs.lifecycle.StaleRun`).

Only watermarked low-resolution files are published here (preview, thumbnail).
After the publishing commit, each variant also gets a private clean display
rendition of the same size (:func:`store_clean_renditions`), served only to an
owner who unlocked it, so an unlock shows clean pixels at once; the clean
full-size files are rendered when a variant is unlocked
(:mod:`lashme.jobs.fullres`).  A provider other than ``studio`` (whose result
cannot be made again from the original) has its output kept as a private
``source`` file that is never served, to render the unlocked files from.

Fidelity guard: a provider that declares ``generative = True`` (fal: FLUX may
redraw lashes or nails) has every output scored against the stored original
(:func:`lashme.providers.fidelity.assess`); the score and the ``altered``
verdict are stored on the variant and logged.  An altered variant is never
offered for unlock (:func:`lashme.credits.unlocks.unlock_variant`); the job
still ends DONE, even when every variant is altered (the job page says why).
The score is a pure function of the original and the provider's output, so
a retried run (which resumes the same provider requests) stores the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image
from rq.timeouts import JobTimeoutException
from sqlalchemy import select
from sqlalchemy.engine import Engine

from lashme.files.storage import Storage, StorageError, get_storage
from lashme.files.storage.base import run_variant_key
from lashme.images import codec, previews, variant_files, working_copy
from lashme.jobs import cancel, queue
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition, StaleRun
from lashme.jobs.provider_runs import DbJobContext, record_cost_of_completed
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.providers import fidelity
from lashme.providers.base import (
    STUDIO_PRESETS,
    GeneratedVariant,
    JobAwareProvider,
    Provider,
    ProviderError,
)
from lashme.providers.registry import get_provider

log = logging.getLogger(__name__)

#: job id -> run token of the run this process is executing (read by the RQ failure callback,
#: which runs in the same work horse after the task raised).
_CURRENT_RUN: dict[str, int] = {}
#: providers whose results can be rendered again from the original at any size.
RERENDERABLE_PROVIDERS = frozenset({"studio"})


#: long side (px) of the original's copy the fidelity guard compares against (it works at 384 px)
FIDELITY_REFERENCE_SIDE = 1024


def is_generative(provider: object) -> bool:
    """True when ``provider`` declares ``generative = True``: its outputs may reshape the work.

    Such outputs go through the fidelity guard; providers without the attribute (``studio``,
    whose edits are honest by construction) do not.
    """
    return getattr(provider, "generative", False) is True


def warm_up() -> None:
    """Run the preview path once on a small synthetic photo (the worker calls it at start-up).

    Decoding, the studio engine (OpenCV builds some colour tables and its thread pool on
    first use) and the watermark canvases (:func:`lashme.images.previews.warm_up`) are
    then ready in the worker process, and every work horse it forks inherits them instead
    of paying for them on a master's photo.  Needs no database, Redis or network; a failure
    is logged and ignored (the first job then pays for it).
    """
    try:
        previews.warm_up()
        if get_settings().provider_name in RERENDERABLE_PROVIDERS:
            ramp = np.linspace(40, 220, 384, dtype=np.float32)
            rgb = np.stack([np.add.outer(ramp[:288] * 0.5, ramp * 0.5)] * 3, axis=-1)
            rgb[..., 0] += 20  # a warm, skin-like ramp
            photo = codec.encode_jpeg(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)))
            for gv in get_provider("studio").generate(photo, STUDIO_PRESETS):
                variant_files.render_variant_files(gv.image)
    except Exception:  # noqa: BLE001 - warming up is an optimisation, never a reason not to work
        log.warning("worker warm-up failed", exc_info=True)


def current_run_token(job_id: str) -> int | None:
    """The run token this process holds for ``job_id`` (None when it runs no run of it)."""
    return _CURRENT_RUN.get(job_id)


class RetryableJobError(Exception):
    """Raised to RQ so it retries the job (the job is back to PENDING)."""


def _claim(job_id: str, engine: Engine | None) -> Job | None:
    """PENDING → PROCESSING, or resume a PROCESSING job whose worker died. None = nothing to do.

    The returned job carries the new ``run_token`` (this run's lease).
    """
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in jobs.FINAL:
            return None
        try:
            if job.status == JobStatus.PROCESSING:
                # a previous attempt died mid-job: take it over (requeue then claim)
                jobs.transition(
                    s,
                    job_id,
                    JobStatus.PENDING,
                    expected=[JobStatus.PROCESSING],
                    message="resumed after worker loss",
                )
            return jobs.transition(s, job_id, JobStatus.PROCESSING, expected=[JobStatus.PENDING])
        except InvalidTransition:
            return None  # another worker, a cancel or a failure got there first


def fail(
    job_id: str,
    *,
    error_key: str,
    detail: str | None = None,
    engine: Engine | None = None,
    run_token: int | None = None,
) -> bool:
    """Mark an unfinished job FAILED (idempotent). Returns True if this call failed it.

    With ``run_token`` (a run failing its own job) nothing happens once the
    run lost its lease (a newer run holds the job).

    Once the FAILED status is committed, the job's provider requests that are
    still open (fal) are canceled, best effort (:func:`lashme.jobs.cancel.cancel_open_requests`),
    so they stop running and costing, and the requests that did complete
    (and were billed) get a cost record (:func:`lashme.jobs.provider_runs.record_cost_of_completed`).
    """
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in jobs.FINAL:
            return False
        try:
            jobs.transition(
                s, job_id, JobStatus.FAILED, error_key=error_key, error_detail=detail, run_token=run_token
            )
        except InvalidTransition as exc:
            if isinstance(exc, StaleRun):
                log.warning("job %s: stale run %s may not fail it: %s", job_id, run_token, exc)
            return False
    queue.notify(job_id, JobStatus.FAILED)
    cancel.cancel_open_requests(job_id, engine=engine)
    try:
        record_cost_of_completed(job_id, engine=engine)
    except Exception:  # noqa: BLE001 - a cost figure never changes the job's outcome
        log.warning("job %s: could not record the cost of its completed requests", job_id, exc_info=True)
    return True


def _store_variant(
    storage: Storage, prefix: str, gv: GeneratedVariant, run_token: int, *, keep_source: bool
) -> dict:
    """Store one variant's watermarked files (and its private source); returns the Variant column values."""
    if gv.image is None:
        return {"preset": gv.preset, "filtered": True}
    keys = {}
    for kind, data in variant_files.render_variant_files(gv.image).items():
        key = run_variant_key(prefix, gv.index, kind, run_token)
        storage.put(key, data, content_type="image/jpeg")
        keys[f"{kind}_key"] = key
    if keep_source:
        key = run_variant_key(prefix, gv.index, "source", run_token)
        storage.put(key, codec.encode_jpeg(gv.image, quality=95), content_type="image/jpeg")
        keys["source_key"] = key
    return {
        "preset": gv.preset,
        "filtered": False,
        "width": gv.image.width,
        "height": gv.image.height,
        **keys,
    }


def guard_variants(
    original: bytes, generated: Sequence[GeneratedVariant], *, job_id: str = ""
) -> dict[int, dict]:
    """The fidelity guard's Variant column values for a generative provider's outputs (each logged).

    A pure function of the original and the outputs: a retried run that resumes the same
    provider requests stores the same values.

    Args:
        original: the stored original's bytes.
        generated: the provider's variants.
        job_id: for the log lines.

    Returns:
        ``{index: {"fidelity_score": float 0..1 (4 decimals) | None, "altered": bool}}``.  A
        filtered variant has no score and is not altered; an output that cannot be assessed
        (or an undecodable original) is altered with no score: the guard fails closed, only a
        measured, faithful variant is offered.
    """
    try:
        reference = working_copy.load_for_processing(original, max_side=FIDELITY_REFERENCE_SIDE)
    except Exception:  # noqa: BLE001 - then every output counts as altered
        log.warning("job %s: the original cannot be decoded for the fidelity guard", job_id, exc_info=True)
        reference = None
    return {gv.index: _guard(job_id, reference, gv) for gv in generated}


def _guard(job_id: str, reference: Image.Image | None, gv: GeneratedVariant) -> dict:
    """The guard's column values for one output (see :func:`guard_variants`)."""
    if gv.image is None:
        return {"fidelity_score": None, "altered": False}
    if reference is None:
        return {"fidelity_score": None, "altered": True}
    try:
        verdict = fidelity.assess(reference, gv.image)
    except ValueError as exc:
        log.warning("job %s variant %d (%s): fidelity not measurable: %s", job_id, gv.index, gv.preset, exc)
        return {"fidelity_score": None, "altered": True}
    log.info(
        "job %s variant %d (%s): fidelity %.4f (threshold %.2f, shift %.1f,%.1f px)%s",
        job_id,
        gv.index,
        gv.preset,
        verdict.score,
        verdict.threshold,
        *verdict.shift,
        " ALTERED" if verdict.altered else "",
    )
    return {"fidelity_score": round(verdict.score, 4), "altered": verdict.altered}


def _upsert_variants(s, job_id: str, rows: dict[int, dict]) -> None:
    existing = {v.index: v for v in s.execute(select(Variant).where(Variant.job_id == job_id)).scalars()}
    for index, values in rows.items():
        v = existing.get(index) or Variant(job_id=job_id, index=index, preset=values["preset"])
        for k, val in values.items():
            setattr(v, k, val)
        s.add(v)


def run(
    job_id: str,
    *,
    engine: Engine | None = None,
    storage: Storage | None = None,
    provider: Provider | None = None,
) -> str:
    """Process one job end to end; returns the job's final (or current) status.

    Returns ``"skipped"`` when there was nothing to claim, and the job's
    current status when this run lost its lease on the way.

    Raises:
        RetryableJobError: a transient failure with attempts left; the job is
            PENDING again and RQ's ``Retry`` runs it later.
    """
    job = _claim(job_id, engine)
    if job is None:
        return "skipped"
    token = job.run_token
    _CURRENT_RUN[job_id] = token
    try:
        return _run_claimed(job, token, engine=engine, storage=storage, provider=provider)
    finally:
        if _CURRENT_RUN.get(job_id) == token:
            del _CURRENT_RUN[job_id]


def _status_of(job_id: str, engine: Engine | None) -> str:
    with session_scope(engine) as s:
        return s.get(Job, job_id).status


def _run_claimed(
    job: Job, token: int, *, engine: Engine | None, storage: Storage | None, provider: Provider | None
) -> str:
    job_id = job.id
    queue.notify(job_id, JobStatus.PROCESSING)
    settings = get_settings()
    if job.attempts > settings.job_max_attempts:
        # a sweeper re-enqueue starts RQ's retry count afresh; the job's own count is the limit
        fail(
            job_id,
            error_key="generation.interrupted",
            detail=f"gave up after {job.attempts - 1} attempts",
            engine=engine,
            run_token=token,
        )
        return _status_of(job_id, engine)
    storage = storage or get_storage()
    started = time.monotonic()

    def failed(error_key: str, detail: str) -> str:
        fail(job_id, error_key=error_key, detail=detail, engine=engine, run_token=token)
        return _status_of(job_id, engine)

    try:
        if provider is None:
            provider = get_provider(job.provider)
            if isinstance(getattr(provider, "max_side", None), int):
                # previews are <= 480 px: render them from a 768 px working copy (the clean
                # full-size image is rendered on unlock, lashme.jobs.fullres)
                provider.max_side = min(provider.max_side, working_copy.PREVIEW_WORKING_SIDE)
        try:
            original = storage.get(job.original_key)
        except StorageError as exc:
            return failed("generation.original_missing", str(exc))
        if isinstance(provider, JobAwareProvider):
            ctx = DbJobContext(job, engine=engine, storage=storage)
            generated = provider.generate_for_job(original, job.presets, ctx)
        else:
            generated = provider.generate(original, job.presets)
        guarded = is_generative(provider)
        scores = guard_variants(original, generated, job_id=job_id) if guarded else {}
        del original
        prefix = job.original_key.rsplit("/", 1)[0] + "/"
        keep_source = job.provider not in RERENDERABLE_PROVIDERS
        rows = {}
        for gv in generated:
            rows[gv.index] = _store_variant(storage, prefix, gv, token, keep_source=keep_source)
            rows[gv.index].update(scores.get(gv.index, {}))
        # kept for the owner's clean display renditions, made after the previews are published
        clean_sources = {gv.index: gv.image for gv in generated if gv.image is not None}
        del generated
    except ProviderError as exc:
        if exc.transient and job.attempts < settings.job_max_attempts:
            try:
                with session_scope(engine) as s:
                    jobs.transition(
                        s,
                        job_id,
                        JobStatus.PENDING,
                        expected=[JobStatus.PROCESSING],
                        message=f"retrying: {exc}",
                        run_token=token,
                    )
            except InvalidTransition:  # failed, canceled or handed to a newer run meanwhile
                return _status_of(job_id, engine)
            queue.notify(job_id, JobStatus.PENDING)
            raise RetryableJobError(str(exc)) from exc
        return failed(exc.reason_key, str(exc))
    except StorageError as exc:
        return failed("generation.storage_failed", str(exc))
    except JobTimeoutException as exc:  # RQ's job_timeout: a provider (or anything) hung
        return failed("generation.timeout", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - any other bug ends the job, never leaves it hanging
        log.exception("job %s failed", job_id)
        return failed("generation.failed", f"{type(exc).__name__}: {exc}")

    if all(r.get("filtered") for r in rows.values()):
        return failed("generation.all_filtered", "all variants filtered")
    done_data = {"seconds": round(time.monotonic() - started, 3), "variants": len(rows), "run": token}
    if guarded:
        done_data["altered"] = sum(1 for r in rows.values() if r.get("altered"))
    with session_scope(engine) as s:
        try:
            # the fenced status change first: it locks the job row and settles the credits,
            # and only if this run still holds the lease are its variant files published
            jobs.transition(
                s,
                job_id,
                JobStatus.DONE,
                expected=[JobStatus.PROCESSING],
                data=done_data,
                run_token=token,
            )
        except InvalidTransition as exc:
            # canceled, failed or taken over meanwhile: nothing of this run is published
            if isinstance(exc, StaleRun):
                log.warning("job %s: stale run %s discarded its results: %s", job_id, token, exc)
            s.rollback()
            return s.get(Job, job_id).status
        _upsert_variants(s, job_id, rows)
    queue.notify(job_id, JobStatus.DONE)
    store_clean_renditions(job_id, clean_sources, prefix, token, storage=storage, engine=engine)
    return JobStatus.DONE


def store_clean_renditions(
    job_id: str,
    images: dict[int, Image.Image],
    prefix: str,
    run_token: int,
    *,
    storage: Storage,
    engine: Engine | None = None,
) -> int:
    """Store the clean display renditions of a published job's variants (private; after the previews).

    Called once the previews are published (the job is DONE and its watchers told), so the
    time to previews does not change.  Each variant gets a clean <= 480 px preview and <= 320 px
    thumbnail (:func:`lashme.images.previews.render_clean_display_files`, the watermarked files'
    pixels without the watermark) at run-keyed storage keys, recorded as
    ``Variant.clean_preview_key`` / ``clean_thumb_key`` where still empty and only for the
    variant rows this run published.  They are served only to an owner who unlocked the
    variant (:func:`lashme.jobs.fullres.display_keys`), so an unlock swaps the card's image in
    the same event while the full-size image is rendered.  Never fails the job: an error is
    logged and the full-size render makes these files later.

    Args:
        job_id: the published job.
        images: variant index -> the provider's output (filtered variants left out).
        prefix: the job's storage folder (``…/``).
        run_token: the publishing run's lease token (key suffix, and the rows it published).
        storage: where the files go.
        engine: database engine (tests).

    Returns:
        How many variants got their renditions recorded.
    """
    started = time.monotonic()
    try:
        keys: dict[int, dict[str, str]] = {}
        for index, image in images.items():
            for kind, data in previews.render_clean_display_files(image).items():
                key = run_variant_key(prefix, index, kind, run_token)
                storage.put(key, data, content_type="image/jpeg")
                keys.setdefault(index, {})[f"{kind}_key"] = key
        recorded: set[int] = set()
        with session_scope(engine) as s:
            for v in s.execute(select(Variant).where(Variant.job_id == job_id)).scalars():
                mine = v.preview_key == run_variant_key(prefix, v.index, "preview", run_token)
                if v.index in keys and mine and not v.clean_preview_key:
                    v.clean_preview_key = keys[v.index]["clean_preview_key"]
                    v.clean_thumb_key = keys[v.index]["clean_thumb_key"]
                    s.add(v)
                    recorded.add(v.index)
        stored = len(recorded)
    except Exception:  # noqa: BLE001 - an optional speed-up: the full-size render makes them anyway
        log.warning("job %s: could not store the clean display renditions", job_id, exc_info=True)
        _drop_deleted_folders(job_id, prefix, list(images), storage=storage, engine=engine)
        return 0
    unrecorded = [i for i in keys if i not in recorded]
    _drop_deleted_folders(job_id, prefix, unrecorded, storage=storage, engine=engine)
    if stored:
        queue.notify(job_id, "clean")  # an owner who unlocked meanwhile sees the clean image now
    log.info("job %s: %d clean display renditions in %.3fs", job_id, stored, time.monotonic() - started)
    return stored


def _drop_deleted_folders(
    job_id: str, prefix: str, indices: list[int], *, storage: Storage, engine: Engine | None
) -> None:
    """Delete the storage folders of ``indices`` whose variant rows are gone (best effort, logged).

    The owner may delete a variant (or the job) between the previews' publication and the
    writes of :func:`store_clean_renditions`; its clean files must not outlive it.
    """
    if not indices:
        return
    try:
        with session_scope(engine) as s:
            present = set(
                s.execute(
                    select(Variant.index).where(Variant.job_id == job_id, Variant.index.in_(indices))
                ).scalars()
            )
        for index in sorted(set(indices) - present):
            storage.delete_prefix(run_variant_key(prefix, index, "x", 0).rsplit("/", 1)[0] + "/")
    except Exception:  # noqa: BLE001 - logged; the job's deletion removes its whole folder anyway
        log.warning("job %s: could not remove deleted variants' clean renditions", job_id, exc_info=True)
