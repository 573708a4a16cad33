"""Admin presets: list versions with the jobs that used them, publish a version, switch versions and presets.

A preset is ``(provider, name)``; its versions are immutable rows of
:class:`lashme.models.PresetVersion` and at most one is active.  New jobs
run the active version of every active preset and pin the ids
(``Job.preset_version_ids``), so publishing, activating or deactivating
never changes a job that was already accepted, nor its retries.  A preset
with no active version is skipped by new jobs; with none active at all,
uploads are refused (``generation.no_active_presets``).

Every public function takes ``(session, actor_id, ...)``, starts with
:func:`lashme.app.admin.guard.require_admin` and audits each change in the
caller's transaction.  The rows of a preset are locked (``SELECT … FOR
UPDATE``) before a change, so two admins editing one preset take turns.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.app.admin import audit
from lashme.app.admin.guard import require_admin
from lashme.errors import DomainError, NotFound
from lashme.images import presets as preset_store
from lashme.images.rendering import PARAM_SPECS as STUDIO_PARAM_SPECS
from lashme.models import Job, PresetVersion
from lashme.providers.registry import PROVIDERS

MAX_PROMPT = 2000
MAX_PARAMS = 12
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
FAL_IMAGE_SIZES = ("square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9")

#: Parameters each provider's versions may set: name -> spec.  A spec is ``("float"|"int", lo, hi)``,
#: ``("choice", values)``.  Studio: :data:`lashme.images.rendering.PARAM_SPECS`; fal: FLUX
#: image-to-image arguments (one image per variant; the safety checker stays on).
PARAM_RULES: dict[str, dict[str, tuple]] = {
    "studio": {name: ("float", spec[1], spec[2]) for name, spec in STUDIO_PARAM_SPECS.items()},
    "fal": {
        "num_images": ("int", 1, 1),
        "image_size": ("choice", FAL_IMAGE_SIZES),
        "enable_safety_checker": ("choice", (True,)),
        "num_inference_steps": ("int", 1, 50),
        "guidance_scale": ("float", 1.0, 20.0),
        "seed": ("int", 0, 2**31 - 1),
    },
}


@dataclass(frozen=True)
class VersionInfo:
    """One version of a preset.

    Attributes:
        jobs: how many jobs pinned this version.
    """

    id: int
    version: int
    model: str
    prompt: str
    strength: float
    params: dict
    active: bool
    created_at: datetime
    jobs: int


@dataclass(frozen=True)
class PresetInfo:
    """A preset of one provider with its versions, newest first.

    Attributes:
        active: True when a version is active (new jobs run it).
        active_version_id: that version's id, else None.
    """

    provider: str
    name: str
    active: bool
    active_version_id: int | None
    versions: list[VersionInfo] = field(default_factory=list)


def _job_counts(session: Session) -> Counter:
    """Jobs per pinned preset version id (counted in Python over the JSON column: portable)."""
    counts: Counter = Counter()
    rows = session.execute(select(Job.preset_version_ids).execution_options(yield_per=2000)).scalars()
    for ids in rows:
        if isinstance(ids, list):
            counts.update({i for i in ids if isinstance(i, int)})
    return counts


def _order_key(info: PresetInfo) -> tuple:
    names = preset_store.PRESET_ORDER
    provider_rank = PROVIDERS.index(info.provider) if info.provider in PROVIDERS else len(PROVIDERS)
    name_rank = names.index(info.name) if info.name in names else len(names)
    return provider_rank, info.provider, name_rank, info.name


def list_presets(session: Session, actor_id: int | None) -> list[PresetInfo]:
    """Every preset (per provider and name) with its versions and how many jobs used each.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).

    Returns:
        Presets in provider then variant order; versions newest first.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="presets.list")
    counts = _job_counts(session)
    groups: dict[tuple[str, str], list[VersionInfo]] = {}
    for v in session.execute(
        select(PresetVersion).order_by(PresetVersion.version.desc(), PresetVersion.id.desc())
    ).scalars():
        groups.setdefault((v.provider, v.name), []).append(
            VersionInfo(
                id=v.id,
                version=v.version,
                model=v.model,
                prompt=v.prompt,
                strength=v.strength,
                params=dict(v.params or {}),
                active=v.active,
                created_at=v.created_at,
                jobs=counts.get(v.id, 0),
            )
        )
    out = []
    for (provider, name), versions in groups.items():
        active = next((v.id for v in versions if v.active), None)
        out.append(PresetInfo(provider, name, active is not None, active, versions))
    return sorted(out, key=_order_key)


def _check_preset(provider: object, name: object) -> tuple[str, str]:
    if provider not in PROVIDERS or name not in preset_store.PRESET_ORDER:
        raise NotFound("admin.presets.unknown")
    return str(provider), str(name)


def _lock_preset(session: Session, provider: str, name: str) -> list[PresetVersion]:
    """The preset's versions, locked for this transaction (PostgreSQL; SQLite holds its write lock)."""
    return list(
        session.execute(
            select(PresetVersion)
            .where(PresetVersion.provider == provider, PresetVersion.name == name)
            .order_by(PresetVersion.version)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _snapshot(v: PresetVersion | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "id": v.id,
        "version": v.version,
        "model": v.model,
        "prompt": v.prompt,
        "strength": v.strength,
        "params": dict(v.params or {}),
    }


def _strength(value: object) -> float:
    if isinstance(value, bool):
        raise DomainError("admin.presets.bad_strength")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise DomainError("admin.presets.bad_strength") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise DomainError("admin.presets.bad_strength")
    return round(number, 4)


def _prompt(provider: str, value: object) -> str:
    if not isinstance(value, str):
        raise DomainError("admin.presets.prompt_required")
    text = value.strip()
    if len(text) > MAX_PROMPT:
        raise DomainError("admin.presets.prompt_too_long", max=MAX_PROMPT)
    if provider == "fal" and not text:
        raise DomainError("admin.presets.prompt_required")
    return text


def _param_value(rule: tuple, value: object) -> object:
    """``value`` if it fits ``rule``, else raises ValueError."""
    kind = rule[0]
    if kind == "choice":
        if isinstance(value, bool) != any(isinstance(c, bool) for c in rule[1]) or value not in rule[1]:
            raise ValueError(value)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(value)
            value = int(value)
    elif not math.isfinite(value):
        raise ValueError(value)
    if not rule[1] <= value <= rule[2]:
        raise ValueError(value)
    return float(value) if kind == "float" else value


def check_params(provider: str, params: object) -> dict[str, Any]:
    """``params`` validated against the provider's :data:`PARAM_RULES`.

    Args:
        provider: provider name.
        params: a dict of parameter name -> value (e.g. parsed from the admin's JSON).

    Returns:
        A clean copy.

    Raises:
        DomainError: ``admin.presets.params_not_object`` when not a dict (or too many keys);
            ``admin.presets.bad_param`` (with ``name``) for an unknown key or a bad value.
    """
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise DomainError("admin.presets.params_not_object")
    rules = PARAM_RULES.get(provider, {})
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str) or key not in rules:
            raise DomainError("admin.presets.bad_param", name=str(key)[:40])
        try:
            clean[key] = _param_value(rules[key], value)
        except ValueError:
            raise DomainError("admin.presets.bad_param", name=key) from None
    return clean


def _model(provider: str, value: object, current: PresetVersion | None) -> str:
    if provider == "studio":
        if value not in (None, "", preset_store.STUDIO_MODEL):
            raise DomainError("admin.presets.bad_model")
        return preset_store.STUDIO_MODEL
    if value is None or value == "":
        return current.model if current is not None else preset_store.FAL_MODEL
    if not isinstance(value, str) or not _MODEL.match(value.strip()) or ".." in value:
        raise DomainError("admin.presets.bad_model")
    return value.strip()


def publish(
    session: Session,
    actor_id: int | None,
    provider: str,
    name: str,
    *,
    prompt: str,
    strength: float,
    params: dict,
    model: str | None = None,
) -> VersionInfo:
    """Add version n+1 of preset ``(provider, name)`` and make it the only active one.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        provider: ``studio`` or ``fal``.
        name: a known preset name (:data:`lashme.images.presets.PRESET_ORDER`).
        prompt: the fal prompt (required), or the studio preset's description; at most 2000 characters.
        strength: 0..1 (fal image-to-image strength; studio blend of original and result).
        params: allowed parameters of the provider (:data:`PARAM_RULES`).
        model: the fal model id (default: the current one); studio's is always ``studio``.

    Returns:
        The new version.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.presets.unknown``.
        DomainError: ``admin.presets.*`` for an invalid prompt, strength, parameter or model.
    """
    admin = require_admin(session, actor_id, action="preset_publish")
    provider, name = _check_preset(provider, name)
    prompt = _prompt(provider, prompt)
    strength = _strength(strength)
    params = check_params(provider, params)
    versions = _lock_preset(session, provider, name)
    current = next((v for v in versions if v.active), None)
    model = _model(provider, model, current)
    row = preset_store.publish_version(
        session, provider=provider, name=name, model=model, prompt=prompt, strength=strength, params=params
    )
    audit.record(
        session,
        admin,
        action="preset_publish",
        target_type="preset",
        target_id=f"{provider}:{name}",
        before=_snapshot(current),
        after=_snapshot(row),
    )
    return VersionInfo(
        id=row.id,
        version=row.version,
        model=row.model,
        prompt=row.prompt,
        strength=row.strength,
        params=dict(row.params),
        active=True,
        created_at=row.created_at,
        jobs=0,
    )


def activate(session: Session, actor_id: int | None, version_id: int) -> int:
    """Make version ``version_id`` the only active version of its preset (a no-op when it already is).

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        version_id: the version to run for new jobs.

    Returns:
        The id of the now active version.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.presets.version_not_found``.
    """
    admin = require_admin(session, actor_id, action="preset_activate")
    if isinstance(version_id, bool) or not isinstance(version_id, int) or not 0 < version_id < 2**31:
        raise NotFound("admin.presets.version_not_found")
    target = session.get(PresetVersion, version_id)
    if target is None:
        raise NotFound("admin.presets.version_not_found")
    versions = _lock_preset(session, target.provider, target.name)
    active = [v for v in versions if v.active]
    if [v.id for v in active] == [version_id]:
        return version_id
    session.execute(
        update(PresetVersion)
        .where(PresetVersion.provider == target.provider, PresetVersion.name == target.name)
        .values(active=PresetVersion.id == version_id)
        .execution_options(synchronize_session=False)
    )
    for v in versions:
        session.refresh(v)
    audit.record(
        session,
        admin,
        action="preset_activate",
        target_type="preset",
        target_id=f"{target.provider}:{target.name}",
        before={
            "active_version_id": active[0].id if active else None,
            "active_version": active[0].version if active else None,
        },
        after={"active_version_id": target.id, "active_version": target.version},
    )
    return version_id


def deactivate(session: Session, actor_id: int | None, provider: str, name: str) -> None:
    """Switch preset ``(provider, name)`` off: no version stays active, new jobs skip it.

    Jobs already accepted keep their pinned versions.  When every preset of
    the provider is off, uploads are refused until one is activated again.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        provider: provider name.
        name: preset name.

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.presets.unknown``.
        DomainError: ``admin.presets.already_off`` when no version is active.
    """
    admin = require_admin(session, actor_id, action="preset_deactivate")
    provider, name = _check_preset(provider, name)
    versions = _lock_preset(session, provider, name)
    active = [v for v in versions if v.active]
    if not active:
        raise DomainError("admin.presets.already_off")
    session.execute(
        update(PresetVersion)
        .where(PresetVersion.provider == provider, PresetVersion.name == name)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    for v in versions:
        session.refresh(v)
    audit.record(
        session,
        admin,
        action="preset_deactivate",
        target_type="preset",
        target_id=f"{provider}:{name}",
        before={"active_version_id": active[0].id, "active_version": active[0].version},
        after={"active_version_id": None, "active_version": None},
    )
