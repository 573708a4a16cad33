"""Pick the generation provider by name (``Settings.provider_name``)."""

from __future__ import annotations

from lashme.providers.base import STUDIO_PRESETS, Provider


def get_provider(name: str) -> Provider:
    """The provider called ``name``.

    Raises:
        ValueError: unknown provider name, or ``fal`` without ``FAL_KEY``.
    """
    if name == "studio":
        from lashme.providers.studio import StudioProvider

        return StudioProvider()
    if name == "fal":
        from lashme.providers.fal import FalProvider

        return FalProvider()
    raise ValueError(f"unknown provider {name!r}")


def presets_for(name: str) -> tuple[str, ...]:
    """The presets a new job on provider ``name`` runs, in variant order."""
    return STUDIO_PRESETS
