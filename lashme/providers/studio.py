"""The local "studio" provider: one corrected base per photo, then four honest looks.

Plain Python (numpy + OpenCV), no Reflex import, no network.  The adapter between the provider
protocol (:mod:`lashme.providers.base`) and the studio engine in :mod:`lashme.images`: the
corrected base (:mod:`lashme.images.corrected_base`), the looks (:mod:`lashme.images.looks`)
and their calibration and rendering (:mod:`lashme.images.rendering`, whose :func:`render` and
:class:`StudioSettings` are re-exported here).  A job runs the studio preset versions pinned on
it; a version's ``strength`` and ``params`` shape the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from lashme.images import working_copy
from lashme.images.looks import STYLES
from lashme.images.presets import PresetMissing
from lashme.images.rendering import StudioSettings, render
from lashme.providers.base import GeneratedVariant, JobContext, ProviderError

__all__ = ["StudioProvider", "StudioSettings", "render"]


class StudioProvider:
    """Local, deterministic provider: one corrected base per photo, one look per preset.

    Args:
        max_side: long side the original is downscaled to before processing.
    """

    name: str = "studio"

    def __init__(self, *, max_side: int = working_copy.PROCESSING_MAX_SIDE) -> None:
        self.max_side = max_side

    def generate(
        self, original: bytes, presets: Sequence[str], *, settings: Sequence[StudioSettings] | None = None
    ) -> list[GeneratedVariant]:
        """Decode ``original`` once, correct it once, and render each preset's look.

        Args:
            original: stored original bytes (normally a JPEG).
            presets: names from :data:`STYLES`, e.g. ``STUDIO_PRESETS``.
            settings: one :class:`StudioSettings` per preset (default: strength 1.0, no
                parameters, i.e. the presets' own looks).

        Returns:
            One variant per preset, ``index`` = position in ``presets``, each an
            RGB image with long side ``<= max_side``; none is filtered.

        Raises:
            ProviderError: non-transient, ``generation.failed``, for an unknown
                preset, settings that do not match the presets, or an original
                that cannot be decoded.
        """
        unknown = [preset for preset in presets if preset not in STYLES]
        if unknown:
            raise ProviderError(f"unknown presets: {unknown}", transient=False)
        if settings is not None and len(settings) != len(presets):
            raise ProviderError(f"{len(settings)} settings for {len(presets)} presets", transient=False)
        try:
            arr = np.asarray(working_copy.load_for_processing(original, max_side=self.max_side))
        except Exception as exc:  # undecodable original: retrying will not help
            raise ProviderError(f"cannot decode the original: {exc!r}", transient=False) from exc
        outputs = render(arr, presets, settings)
        return [
            GeneratedVariant(index, preset, Image.fromarray(out))
            for index, (preset, out) in enumerate(zip(presets, outputs, strict=True))
        ]

    def generate_for_job(
        self, original: bytes, presets: Sequence[str], ctx: JobContext
    ) -> list[GeneratedVariant]:
        """Run the preset versions pinned on the job (pinned now if the job has none yet).

        Args:
            original: stored original bytes.
            presets: preset names in variant order.
            ctx: the job's context (only :meth:`JobContext.preset_versions` is used).

        Returns:
            As :meth:`generate`, shaped by each version's strength and parameters.

        Raises:
            ProviderError: non-transient when a pinned version is gone or a preset has
                no active version; otherwise as :meth:`generate`.
        """
        try:
            versions = ctx.preset_versions(self.name, presets)
        except PresetMissing as exc:
            raise ProviderError(str(exc), transient=False) from exc
        settings = [StudioSettings.from_version(v.strength, v.params) for v in versions]
        return self.generate(original, presets, settings=settings)
