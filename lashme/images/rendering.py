"""Rendering the studio engine's looks: each look's strength per photo, the looks, the presets.

For each photo :func:`render` prepares the corrected base once
(:func:`lashme.images.corrected_base.prepare`) and applies each preset's look
(:mod:`lashme.images.looks`) to it (:func:`style`).  Each look's tone/colour strength is
calibrated per photo (:func:`amount`, :func:`amounts`) so that its thumbnail lies
:data:`DISTINCTNESS` (mean CIELAB dE) from the corrected base: four clearly different choices,
none further from the photo than that.  For the same input every preset returns identical
pixels.

Versioned presets: a job runs the studio preset versions pinned on it
(``lashme.images.presets``); a version's ``strength`` and ``params`` shape the result
(:class:`StudioSettings`).  Strength 1.0 with no parameters (version 1, seeded by migration
``0007``) is exactly the preset's output; strength 0 is the (decoded) original.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
from PIL import Image

from lashme.images import retouch
from lashme.images.corrected_base import BAND_ROWS, BASE_DETAIL, Base, prepare, to_lab
from lashme.images.looks import (
    STYLES,
    Style,
    adapted_look,
    colour,
    look_layers,
    saturate,
    scaled_look,
    tone,
)
from lashme.providers.base import STUDIO_PRESETS

__all__ = [
    "DEFAULT_SETTINGS",
    "DISTINCTNESS",
    "PARAM_SPECS",
    "PIPELINES",
    "StudioSettings",
    "amount",
    "amounts",
    "crisp_detail",
    "natural",
    "render",
    "soft_focus",
    "style",
    "warm_glow",
]

#: Mean CIELAB dE (CIE76) a look keeps from ``natural`` at thumbnail size: clearly another
#: choice in the gallery, yet no further from the true photo than that.
DISTINCTNESS = 6.7
# how far a look's tone/colour strength may be scaled for a photo; up to 3.4 for warm_glow on a
# lamp-lit dusk scene (dark, so its curves move little, and its warmth mostly leant away)
_AMOUNT_LIMITS = (0.45, 3.4)
_AMOUNT_STEPS = 3  # secant steps of the calibration (each ~2 ms on the thumbnail)
_PAIR_ROUNDS = 1  # rounds of pushing the closest pair of looks apart (amounts)


def amount(base: Base, look: Style) -> float:
    """How strongly to apply a look's tone and colour to this photo.

    A fixed curve changes a pale portrait far more than a dark red-and-brown still life; the
    look's tone/colour part (curves, saturation, clarity, glow -- not its retouching) is scaled
    so that, at thumbnail size, it lies :data:`DISTINCTNESS` from the corrected base: every
    look is visibly its own on every photo and none strays further from the photo than needed.
    :data:`_AMOUNT_STEPS` secant steps on the thumbnail (~2 ms each).

    Args:
        base: from :func:`prepare`.
        look: the look (e.g. ``STYLES["crisp_detail"]``).

    Returns:
        The scale, within :data:`_AMOUNT_LIMITS` (1.0 for a look without tone/colour changes).
    """
    if not _tones(look):
        return 1.0
    ref = to_lab(base.thumb)
    scale = 1.0
    for _ in range(_AMOUNT_STEPS):
        distance = float(np.linalg.norm(_thumb_lab(base, look, scale) - ref, axis=2).mean())
        if distance < 1e-3:
            return 1.0
        scale = _clamp_amount(scale * DISTINCTNESS / distance)
    return scale


def amounts(base: Base, looks: Sequence[Style]) -> list[float]:
    """:func:`amount` of each look, then pairs of looks pushed apart until they differ.

    :func:`amount` places each look :data:`DISTINCTNESS` from the corrected base, but two
    looks may leave it in similar directions (on a dark or a warm scene, the warm and the soft
    look both mostly brighten).  For up to :data:`_PAIR_ROUNDS` rounds, the closest pair of
    looks at thumbnail size, when nearer than :data:`DISTINCTNESS`, gets both its scales
    raised by the shortfall ratio (within :data:`_AMOUNT_LIMITS`): a look's tone/colour part
    is about linear in its scale, so the pair's distance grows by that ratio.

    Args:
        base: from :func:`prepare`.
        looks: the looks of one photo, e.g. ``[STYLES[p] for p in STUDIO_PRESETS]``.

    Returns:
        One scale per look, in order.
    """
    scales = [amount(base, look) for look in looks]
    toned = [i for i, look in enumerate(looks) if _tones(look)]
    for _ in range(_PAIR_ROUNDS):
        labs = {i: _thumb_lab(base, looks[i], scales[i]) for i in toned}
        pairs = [
            (float(np.linalg.norm(labs[i] - labs[j], axis=2).mean()), i, j)
            for n, i in enumerate(toned)
            for j in toned[n + 1 :]
        ]
        if not pairs:
            break
        distance, i, j = min(pairs)
        if distance >= DISTINCTNESS or distance < 1e-3:
            break
        for k in (i, j):
            scales[k] = _clamp_amount(scales[k] * DISTINCTNESS / distance)
    return scales


def _tones(look: Style) -> bool:
    """True when a look has a tone/colour part for :func:`amount` to scale."""
    return not (look.curves is None and look.saturation == 1.0 and look.clarity <= 0 and look.glow <= 0)


def _clamp_amount(scale: float) -> float:
    return min(max(scale, _AMOUNT_LIMITS[0]), _AMOUNT_LIMITS[1])


def _thumb_lab(base: Base, look: Style, scale: float) -> np.ndarray:
    """CIELAB of the base thumbnail with ``look``'s tone/colour part at ``scale``."""
    scaled = adapted_look(base, scaled_look(look, scale))
    layers = look_layers(scaled, colour(base.thumb, scaled, clamp=False), base.thumb_skin, base.thumb.shape)
    return to_lab(tone(base.thumb, scaled, layers))



def style(base: Base, look: Style, scale: float | None = None) -> np.ndarray:
    """Apply one look to the corrected base.

    Args:
        base: from :func:`prepare`.
        look: e.g. ``STYLES["warm_glow"]``.
        scale: strength of the look's tone/colour part (default: :func:`amount`; :func:`render`
            passes the jointly calibrated :func:`amounts`).

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if look.detail >= BASE_DETAIL:
        sharpened, smoothed, extra = base.sharpened, base.smoothed, look.detail - BASE_DETAIL
    else:  # a version asking for less detail than the shared base: redo the retouch for it
        sharpened = retouch.sharpen_dark_detail(base.corrected, base.detail, look.detail)
        smoothed = (
            retouch.smooth_skin(sharpened, base.skin, 1.0, small=base.small, detail=base.detail)
            if look.smoothing
            else None
        )
        extra = 0.0
    s = min(max(look.smoothing, 0.0), 1.0)
    toned = adapted_look(base, scaled_look(look, amount(base, look) if scale is None else scale))
    layers = look_layers(toned, colour(base.tiny, toned, clamp=False), base.skin, base.corrected.shape)
    # every remaining step is per pixel: run the chain band by band, so that its intermediate
    # images stay in the CPU cache (about twice as fast as whole-image passes)
    out = np.empty_like(base.corrected)
    for top in range(0, out.shape[0], BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        mixed = cv2.addWeighted(sharpened[rows], 1.0 - s, smoothed[rows], s, 0) if s > 0 else sharpened[rows]
        out[rows] = tone(mixed, toned, layers.rows(rows), detail=(base.detail[rows], extra))
    return out


#: Parameters a studio preset version may set in ``params``: name -> (type, min, max, default, meaning).
PARAM_SPECS: dict[str, tuple[type, float, float, float, str]] = {
    "saturation": (float, 0.0, 2.0, 1.0, "colour saturation of the enhanced result; 1 = unchanged, 0 = grey"),
    "smoothing": (float, 0.0, 2.0, 1.0, "skin smoothing, times the preset's own (0 = none; capped at full)"),
    "detail": (float, 0.0, 2.0, 1.0, "lash/brow/nail detail sharpening, times the preset's own (0 = none)"),
}


@dataclass(frozen=True)
class StudioSettings:
    """How one preset version shapes its preset's result.

    Attributes:
        strength: blend of original and enhanced result, 0..1: ``original x (1 - strength)
            + enhanced x strength``; 1.0 is the preset's output exactly, 0.0 the original.
        saturation: colour saturation of the enhanced result before the blend (see
            :data:`PARAM_SPECS`); 1.0 leaves it unchanged.
        smoothing: multiplier of the preset's skin smoothing (result capped at 1).
        detail: multiplier of the preset's dark-detail sharpening.
    """

    strength: float = 1.0
    saturation: float = 1.0
    smoothing: float = 1.0
    detail: float = 1.0

    @classmethod
    def from_version(cls, strength: float, params: Mapping[str, Any] | None) -> StudioSettings:
        """Settings from a preset version's ``strength`` and ``params``, each clamped to its range.

        Args:
            strength: the version's strength.
            params: the version's parameters (unknown keys are ignored).

        Returns:
            The settings.
        """
        params = params or {}
        values: dict[str, float] = {"strength": min(max(float(strength), 0.0), 1.0)}
        for name, (_, lo, hi, default, _) in PARAM_SPECS.items():
            values[name] = min(max(float(params.get(name, default)), lo), hi)
        return cls(**values)


DEFAULT_SETTINGS = StudioSettings()
assert {f.name for f in fields(StudioSettings)} == {"strength", *PARAM_SPECS}


def render(
    rgb: np.ndarray, presets: Sequence[str], settings: Sequence[StudioSettings] | None = None
) -> list[np.ndarray]:
    """All requested presets of one photo from one shared base.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image.
        presets: names from :data:`STYLES`.
        settings: one :class:`StudioSettings` per preset (default: the presets' own looks).

    Returns:
        One ``(H, W, 3)`` uint8 array per preset, in order.

    Raises:
        KeyError: an unknown preset.
        ValueError: ``settings`` does not match ``presets``.
    """
    settings = list(settings) if settings is not None else [DEFAULT_SETTINGS] * len(presets)
    if len(settings) != len(presets):
        raise ValueError(f"{len(settings)} settings for {len(presets)} presets")
    looks = [STYLES[p] for p in presets]
    if all(s.strength <= 0 for s in settings):
        return [rgb.copy() for _ in presets]
    base = prepare(rgb)
    # calibrated over every look, whichever are asked for: a preset's pixels do not depend on
    # its companions (retouching settings do not change the tone/colour part)
    scale = dict(zip(STYLES, amounts(base, list(STYLES.values())), strict=True))
    return [_finish(base, look, s, scale[p]) for p, look, s in zip(presets, looks, settings, strict=True)]


def _finish(base: Base, look: Style, settings: StudioSettings, scale: float | None = None) -> np.ndarray:
    if settings.strength <= 0:
        return base.original.copy()
    if settings.smoothing != 1.0 or settings.detail != 1.0:
        look = Style(
            **{
                **{f.name: getattr(look, f.name) for f in fields(Style)},
                "smoothing": min(look.smoothing * settings.smoothing, 1.0),
                "detail": look.detail * settings.detail,
            }
        )
    out = style(base, look, scale)
    if settings.saturation != 1.0:
        out = saturate(out, settings.saturation)
    if settings.strength < 1.0:
        out = cv2.addWeighted(base.original, 1.0 - settings.strength, out, settings.strength, 0)
    return out


def _pipeline(preset: str) -> Callable[[Image.Image], Image.Image]:
    def run(img: Image.Image) -> Image.Image:
        rgb = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
        return Image.fromarray(render(rgb, [preset])[0])

    run.__name__ = preset
    run.__doc__ = f"The ``{preset}`` preset on an RGB image (base correction, then its look); same size, RGB."
    return run


natural = _pipeline("natural")
warm_glow = _pipeline("warm_glow")
crisp_detail = _pipeline("crisp_detail")
soft_focus = _pipeline("soft_focus")

#: Each preset as an image -> image function (base correction + look), in preset order.
PIPELINES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "natural": natural,
    "warm_glow": warm_glow,
    "crisp_detail": crisp_detail,
    "soft_focus": soft_focus,
}
assert tuple(PIPELINES) == STUDIO_PRESETS
