"""The provider contract: one original photo in, one enhanced variant per preset out.

Plain Python, no Reflex import.  A provider is anything with a ``name`` and a
``generate`` method (:class:`Provider`); the job runner calls it and turns its
:class:`GeneratedVariant` results into stored files with
:func:`lashme.images.variant_files.render_variant_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from PIL import Image

#: The four presets of a studio job, in variant-index order.
STUDIO_PRESETS: tuple[str, ...] = ("natural", "warm_glow", "crisp_detail", "soft_focus")


@dataclass(frozen=True)
class GeneratedVariant:
    """One generated variant.

    Attributes:
        index: position of the variant in the job, ``0..3`` (the preset's index).
        preset: preset name, e.g. ``"warm_glow"``.
        image: the RGB result (long side <= 2048 px), or ``None`` when the
            provider filtered it (e.g. NSFW) and it must not be delivered.
        filtered_reason: why ``image`` is ``None`` (e.g. ``"nsfw"``), else ``None``.
    """

    index: int
    preset: str
    image: Image.Image | None
    filtered_reason: str | None = None


@runtime_checkable
class Provider(Protocol):
    """Something that enhances a photo.

    Attributes:
        name: short stable identifier stored with each job, e.g. ``"studio"``.
    """

    name: str

    def generate(self, original: bytes, presets: Sequence[str]) -> list[GeneratedVariant]:
        """Produce one variant per preset.

        Args:
            original: the stored original's bytes (a metadata-free JPEG).
            presets: preset names, e.g. :data:`STUDIO_PRESETS`.

        Returns:
            One :class:`GeneratedVariant` per preset, ``index`` = position in ``presets``.

        Raises:
            ProviderError: generation failed; ``transient`` says whether a retry may help.
        """
        ...


class JobContext(Protocol):
    """What a job-aware provider may read and record about the job it runs (see ``jobs.provider_runs``).

    Lets a provider that submits work to an external queue persist its request
    ids at once, so a retried job resumes them instead of paying again.

    Attributes:
        job_id: the LashMe job id (32 hex).
    """

    job_id: str

    def preset_versions(self, provider: str, presets: Sequence[str]) -> list[Any]:
        """The preset versions to run, pinned on the job at the first call (``PresetVersion`` rows)."""
        ...

    def submitted(self) -> dict[int, str]:
        """Request ids already submitted for this job, by variant index."""
        ...

    def first_submitted_at(self) -> datetime | None:
        """When the job's first request was submitted (aware UTC), None before that."""
        ...

    def record_submission(
        self, index: int, *, model: str, request_id: str, preset_version_id: int | None
    ) -> str:
        """Persist a just-submitted request (committed before returning).

        Returns:
            The request id now recorded for ``index``: ``request_id``, or the id
            another attempt recorded first (resume that one, drop this one).
        """
        ...

    def record_status(self, index: int, status: str, *, queue_position: int | None = None) -> None:
        """Record a request's queue status; a job event is written only when it changes."""
        ...

    def record_completion(self, index: int, *, image_count: int) -> None:
        """Mark a request completed with ``image_count`` output images."""
        ...

    def record_cost(self, *, model: str, image_count: int, cost_usd: float) -> None:
        """Store the job's cost record (model, images, estimated USD; latency from submission to now)."""
        ...

    def is_canceled(self) -> bool:
        """True once the job was canceled (the provider should stop and cancel its requests)."""
        ...

    def original_url(self, *, expires_in: int) -> str | None:
        """A short-lived URL of the stored original when the storage can presign one, else None."""
        ...


@runtime_checkable
class JobAwareProvider(Protocol):
    """A provider that runs a job through an external queue and needs a :class:`JobContext`.

    ``lashme.jobs.generation.run`` calls ``generate_for_job`` instead of ``generate``
    when the provider has it.
    """

    name: str

    def generate_for_job(
        self, original: bytes, presets: Sequence[str], ctx: JobContext
    ) -> list[GeneratedVariant]:
        """Like :meth:`Provider.generate`, resuming/recording external requests through ``ctx``.

        Raises:
            ProviderError: as for :meth:`Provider.generate`.
        """
        ...


class ProviderError(Exception):
    """Generation failed.

    Args:
        message: technical detail for logs (not shown to users).
        transient: ``True`` if retrying later may succeed (timeouts, rate
            limits, a busy backend); ``False`` for permanent failures such as an
            undecodable original or an unknown preset.
        reason_key: user-facing message key (a catalog message id, see :mod:`lashme.errors`)
            shown on the failed job, e.g. ``"generation.failed"``.

    Attributes:
        transient: as passed.
        reason_key: as passed.
    """

    def __init__(
        self, message: str = "", *, transient: bool = False, reason_key: str = "generation.failed"
    ) -> None:
        super().__init__(message or reason_key)
        self.transient = transient
        self.reason_key = reason_key
