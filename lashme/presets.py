"""Versioned generation presets: the prompt and parameters a provider runs for each preset name.

Rows of :class:`lashme.models.PresetVersion` are never edited in place: a
change adds ``version + 1`` and moves ``active`` to it, so a job that pinned
version ids (``Job.preset_version_ids``) keeps running with exactly what it
started with, even across retries.  The first versions (the four studio
presets for fal) are seeded by migration ``0003``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.models import PresetVersion

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


class PresetMissing(LookupError):
    """No active version exists for a requested preset name (or a pinned id is gone)."""


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
