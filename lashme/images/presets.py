"""Versioned generation presets: the prompt and parameters a provider runs for each preset name.

Rows of :class:`lashme.models.PresetVersion` are never edited in place: a
change adds ``version + 1`` and moves ``active`` to it, so a job that pinned
version ids (``Job.preset_version_ids``) keeps running with exactly what it
started with, even across retries.  The first versions (the four studio
presets for fal) are seeded by migration ``0003``; the studio provider's
versions (strength and pipeline parameters) by migration ``0007``.

A new job runs the *active* presets of its provider
(:func:`active_for_provider`, in :data:`PRESET_ORDER`) and pins their ids
at creation; a preset with no active version is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.errors import DomainError
from lashme.models import PresetVersion
from lashme.providers.base import STUDIO_PRESETS

#: Every preset name a provider may run, in variant order (new jobs list their active presets in this order).
PRESET_ORDER: tuple[str, ...] = STUDIO_PRESETS

FAL_MODEL = "fal-ai/flux/dev/image-to-image"
BASE_PROMPT = (
    "Professional beauty photography of the master's work, true to the original: keep the same person, "
    "pose, lash, nail and brow work exactly as they are; clean studio lighting, sharp focus on the work, "
    "natural skin texture, high detail, 85mm lens"
)
#: Style added to :data:`BASE_PROMPT` per studio preset (version 1, as seeded by migration ``0003``).
FAL_STYLES: dict[str, str] = {
    "natural": "neutral white balance, soft even daylight, true-to-life colours",
    "warm_glow": "warm golden-hour glow, soft warm highlights, gentle bloom",
    "crisp_detail": "crisp micro-contrast, every lash and edge defined, bright clean background",
    "soft_focus": "soft retouched skin, dreamy diffused light, subtle vignette",
}
FAL_STRENGTH = 0.45
FAL_PARAMS = {"num_images": 1, "image_size": "portrait_4_3", "enable_safety_checker": True}

STUDIO_MODEL = "studio"
#: What each studio pipeline does (the ``prompt`` of studio versions: a description, not sent anywhere).
STUDIO_DESCRIPTIONS: dict[str, str] = {
    "natural": "Auto white balance, exposure and gentle local contrast: a neutral studio look.",
    "warm_glow": "Warm golden-hour grade with a soft bloom around highlights.",
    "crisp_detail": "Local contrast and an edge-aware unsharp mask: crisp lashes, nail edges and brows.",
    "soft_focus": "Edge-preserving skin smoothing with a subtle vignette.",
}


class PresetMissing(LookupError):
    """No active version exists for a requested preset name (or a pinned id is gone)."""


class NoActivePresets(DomainError):
    """Every preset of the provider is switched off: a new job would produce nothing."""

    def __init__(self, key: str = "generation.no_active_presets", **params: object) -> None:
        super().__init__(key, **params)


def _order(name: str) -> tuple[int, str]:
    return (PRESET_ORDER.index(name), "") if name in PRESET_ORDER else (len(PRESET_ORDER), name)


def active_for_provider(session: Session, provider: str) -> list[PresetVersion]:
    """The active version of every preset of ``provider``, in :data:`PRESET_ORDER` (unknown names last).

    Args:
        session: open database session.
        provider: provider name, e.g. ``"studio"``.

    Returns:
        The versions a new job on ``provider`` runs, one per active preset.

    Raises:
        NoActivePresets: no preset of ``provider`` has an active version.
    """
    rows = list(
        session.execute(
            select(PresetVersion).where(PresetVersion.provider == provider, PresetVersion.active)
        ).scalars()
    )
    if not rows:
        raise NoActivePresets()
    return sorted(rows, key=lambda row: _order(row.name))


def active_versions(session: Session, provider: str, names: Sequence[str]) -> list[PresetVersion]:
    """The active version of each preset in ``names``, in the same order.

    Args:
        session: open database session.
        provider: provider name, e.g. ``"fal"``.
        names: preset names, e.g. ``("natural", "warm_glow", ...)``.

    Returns:
        One :class:`PresetVersion` per name.

    Raises:
        PresetMissing: a name has no active version for ``provider``.
    """
    rows = session.execute(
        select(PresetVersion).where(
            PresetVersion.provider == provider, PresetVersion.name.in_(list(names)), PresetVersion.active
        )
    ).scalars()
    by_name = {row.name: row for row in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise PresetMissing(f"no active {provider} preset for {missing}")
    return [by_name[n] for n in names]


def versions_by_id(session: Session, ids: Sequence[int]) -> list[PresetVersion]:
    """The preset versions with ``ids``, in the same order.

    Raises:
        PresetMissing: an id does not exist.
    """
    rows = {
        row.id: row
        for row in session.execute(select(PresetVersion).where(PresetVersion.id.in_(list(ids)))).scalars()
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise PresetMissing(f"preset versions {missing} not found")
    return [rows[i] for i in ids]


def publish_version(
    session: Session,
    *,
    provider: str,
    name: str,
    model: str,
    prompt: str,
    strength: float,
    params: dict | None = None,
) -> PresetVersion:
    """Add the next version of preset ``name`` and make it the only active one.

    Args:
        session: open database session (the caller commits).
        provider: provider name, e.g. ``"fal"``.
        name: preset name, e.g. ``"warm_glow"``.
        model: provider model / endpoint id, e.g. ``"fal-ai/flux/dev/image-to-image"``.
        prompt: the full prompt text.
        strength: image-to-image strength, 0..1 (how far the result may move from the original).
        params: extra request parameters (``num_images``, ``image_size`` ...).

    Returns:
        The new active version.
    """
    latest = session.execute(
        select(PresetVersion.version)
        .where(PresetVersion.provider == provider, PresetVersion.name == name)
        .order_by(PresetVersion.version.desc())
        .limit(1)
    ).scalar()
    session.execute(
        update(PresetVersion)
        .where(PresetVersion.provider == provider, PresetVersion.name == name)
        .values(active=False)
    )
    row = PresetVersion(
        name=name,
        version=(latest or 0) + 1,
        provider=provider,
        model=model,
        prompt=prompt,
        strength=strength,
        params=dict(params or {}),
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def ensure_studio_defaults(session: Session) -> int:
    """Publish version 1 of every studio preset for ``studio`` that has no version yet (idempotent).

    Version 1 is exactly the fixed pipelines (strength 1.0, no parameters).

    Returns:
        How many presets were added (0 when all exist, e.g. after migration ``0007``).
    """
    existing = set(
        session.execute(select(PresetVersion.name).where(PresetVersion.provider == "studio")).scalars()
    )
    added = 0
    for name, description in STUDIO_DESCRIPTIONS.items():
        if name not in existing:
            publish_version(
                session,
                provider="studio",
                name=name,
                model=STUDIO_MODEL,
                prompt=description,
                strength=1.0,
                params={},
            )
            added += 1
    return added


def ensure_fal_defaults(session: Session) -> int:
    """Publish version 1 of every studio preset for ``fal`` that has no version yet (idempotent).

    Returns:
        How many presets were added (0 when all exist, e.g. after migration ``0003``).
    """
    existing = set(
        session.execute(select(PresetVersion.name).where(PresetVersion.provider == "fal")).scalars()
    )
    added = 0
    for name, style in FAL_STYLES.items():
        if name not in existing:
            publish_version(
                session,
                provider="fal",
                name=name,
                model=FAL_MODEL,
                prompt=f"{BASE_PROMPT}; {style}",
                strength=FAL_STRENGTH,
                params=FAL_PARAMS,
            )
            added += 1
    return added
