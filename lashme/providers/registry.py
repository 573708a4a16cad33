"""Pick the generation provider by name (``Settings.provider_name``) and the presets a new job runs."""

from __future__ import annotations

from sqlmodel import Session

from lashme.models import PresetVersion
from lashme.providers.base import Provider

#: Providers a job (and a preset version) may name.
PROVIDERS: tuple[str, ...] = ("studio", "fal")


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


def presets_for(session: Session, name: str) -> list[PresetVersion]:
    """The active preset versions a new job on provider ``name`` runs, in variant order.

    Read from ``preset_versions`` (admins switch presets and versions on the
    presets page); the caller pins their ids on the job.

    Args:
        session: open database session.
        name: provider name.

    Returns:
        One active version per preset, in :data:`lashme.images.presets.PRESET_ORDER`.

    Raises:
        lashme.images.presets.NoActivePresets: every preset of the provider is switched off.
    """
    from lashme.images.presets import active_for_provider

    return active_for_provider(session, name)
