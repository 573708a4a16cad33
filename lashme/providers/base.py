"""The provider contract: one original photo in, one enhanced variant per preset out.

Plain Python, no Reflex import.  A provider is anything with a ``name`` and a
``generate`` method (:class:`Provider`); the job runner calls it and turns its
:class:`GeneratedVariant` results into stored files with
:func:`lashme.imaging.render_variant_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


class ProviderError(Exception):
    """Generation failed.

    Args:
        message: technical detail for logs (not shown to users).
        transient: ``True`` if retrying later may succeed (timeouts, rate
            limits, a busy backend); ``False`` for permanent failures such as an
            undecodable original or an unknown preset.
        reason_key: user-facing message key from :data:`lashme.errors.MESSAGES`
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
