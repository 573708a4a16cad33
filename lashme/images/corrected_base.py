"""The studio engine's corrected base: what every look of one photo shares.

For each photo the engine decodes it once and measures it once (:func:`prepare`): the automatic
base correction of :mod:`lashme.images.correction` (veil, white balance with a confidence and a
cap, exposure, highlight roll-off), a skin mask (:mod:`lashme.images.skin`), the lash-scale
detail layer and the shared sharpening and skin smoothing (:mod:`lashme.images.retouch`), the
thumbnail the looks are calibrated on and the colour of the base's near-neutral pixels
(:func:`neutral_colour`), from which the looks (:mod:`lashme.images.looks`) set their colour
per photo.  Plain Python (numpy + OpenCV).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lashme.images import retouch
from lashme.images.correction import STATS_SIDE, Correction, apply, estimate, srgb_to_linear
from lashme.images.skin import skin_mask

__all__ = [
    "BAND_ROWS",
    "BASE_DETAIL",
    "Base",
    "cast_temperature",
    "neutral_colour",
    "prepare",
    "to_lab",
    "warmth",
]

_WORK_SIDE = 512  # resolution of the skin mask and the guided filter for a 2048 px photo
_REF_SIDE = 2048
_THUMB_SIDE = 160
_GLOW_SIDE = 192  # resolution the glow layer is built at (retouch.glow)
BAND_ROWS = 64  # rows per band of a look's per-pixel chain (~400 kB a 2048 px image, fits L2)


@dataclass(frozen=True)
class Base:
    """What every preset of one photo shares (computed once by :func:`prepare`).

    Attributes:
        original: ``(H, W, 3)`` uint8, the decoded input.
        corrected: ``(H, W, 3)`` uint8, the base correction applied.
        correction: what was estimated.
        small: ``(h, w, 3)`` uint8, ``corrected`` at the working resolution (~1/4).
        skin: ``(h, w)`` float32 skin membership 0..1 of ``small``.
        detail: ``(H, W)`` uint8 lash-scale luma detail of ``corrected`` (128 = none).
        sharpened: ``corrected`` with the shared dark-detail sharpening (:data:`BASE_DETAIL`).
        smoothed: ``sharpened`` with full-strength skin smoothing, fine contrasty detail (lash
            lines, brow hairs) put back from ``sharpened``; a look with smoothing ``s``
            blends ``(1 - s) sharpened + s smoothed``, which is exactly the guided-filter
            retouch at strength ``s`` (the retouch is linear in its strength).
        thumb: ``(t, t', 3)`` uint8, ``corrected`` at thumbnail size (long side
            :data:`_THUMB_SIDE`), on which each look's strength is calibrated
            (:func:`~lashme.images.rendering.amount`).
        thumb_skin: ``(t, t')`` float32 skin membership of ``thumb``.
        tiny: ``(g, g', 3)`` uint8, ``corrected`` at the glow layer's resolution (long side
            :data:`_GLOW_SIDE`): a look's glow is built from it, toned like the look.
        warmth: colour temperature ``(log R/G - log B/G) / sqrt 2`` of the mean linear colour
            of ``thumb``'s near-neutral pixels (the least chromatic :data:`_NEUTRAL_SHARE`, not
            near black or white); about 0 for a neutral photo, > 0 warm (see :func:`warmth`).
        tint: green-magenta tint ``(log R + log B - 2 log G) / sqrt 6`` of the same pixels;
            about +0.03..+0.09 on balanced photos, < 0 green (see :func:`neutral_colour`).
        tint_trust: 0..1, how far ``tint`` speaks for the light (0 when the scene has no
            near-neutral surfaces).
    """

    original: np.ndarray
    corrected: np.ndarray
    correction: Correction
    small: np.ndarray
    skin: np.ndarray
    detail: np.ndarray
    sharpened: np.ndarray
    smoothed: np.ndarray
    thumb: np.ndarray
    thumb_skin: np.ndarray
    tiny: np.ndarray
    warmth: float = 0.0
    tint: float = 0.0
    tint_trust: float = 0.0


#: Dark-detail sharpening every look starts from (a look with more adds the rest on top).
BASE_DETAIL = 0.55


def prepare(rgb: np.ndarray) -> Base:
    """Correct a photo once and compute what the looks share.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image (long side normally <= 2048 px).

    Returns:
        The shared :class:`Base`.
    """
    side = max(32, round(max(rgb.shape[:2]) * _WORK_SIDE / _REF_SIDE))
    small = retouch.low_res(rgb, side)
    # the statistics copy is never smaller than the correction's own (~256 px): a smaller
    # photo would otherwise be judged on blurrier edges than a large one of the same scene
    correction = estimate(small if max(small.shape[:2]) >= STATS_SIDE else retouch.low_res(rgb, STATS_SIDE))
    corrected = apply(rgb, correction)
    small = apply(small, correction)
    skin = skin_mask(small)
    detail = retouch.detail_layer(corrected)
    loss, offset = retouch.smoothing_maps(small, skin, 1.0, rgb.shape)
    sharpened, smoothed = np.empty_like(corrected), np.empty_like(corrected)
    for top in range(0, rgb.shape[0], BAND_ROWS):  # per pixel from here: band by band (see style)
        rows = slice(top, top + BAND_ROWS)
        sharp = retouch.add_maps(corrected[rows], retouch.dark_detail_maps(detail[rows], BASE_DETAIL))
        sharpened[rows] = sharp
        smoothed[rows] = retouch.apply_smoothing(sharp, loss[rows], offset[rows], detail[rows])
    thumb = retouch.low_res(small, _THUMB_SIDE)
    thumb_skin = cv2.resize(skin, (thumb.shape[1], thumb.shape[0]), interpolation=cv2.INTER_AREA)
    tiny = retouch.low_res(small, _GLOW_SIDE)
    shared = (sharpened, smoothed, thumb, thumb_skin, tiny)
    return Base(rgb, corrected, correction, small, skin, detail, *shared, *neutral_colour(thumb))


_NEUTRAL_SHARE = 0.3  # share of the (not near black/white) pixels counted as near-neutral


def neutral_colour(rgb: np.ndarray) -> tuple[float, float, float]:
    """Colour temperature and tint of a photo's near-neutral pixels, and the trust in the tint.

    The pixels whose CIELAB chroma is in the lowest :data:`_NEUTRAL_SHARE` (among those with
    L* 15..97: near black and white say little about colour) stand for the greys and whites of
    the scene.  Of the logs ``(r, g, b)`` of their mean linear colour the result gives the
    temperature ``(r - b) / sqrt 2`` (the blue-amber axis of :mod:`lashme.images.correction`)
    and the tint ``(r + b - 2 g) / sqrt 6`` (green-magenta, orthogonal to it).  A warm lamp's
    light lies on the Planckian locus, which in these units is green as well as amber: a base
    correction that takes out only the temperature excess of a lamp cast leaves whites and
    skin yellow-green (sallow), and the tint shows it.  A scene without near-neutral surfaces
    (a brown table under a red cup) says nothing about the light's tint: hence the trust.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image, normally a thumbnail (~160 px).

    Returns:
        ``(temperature, tint, trust)``: temperature ~0 neutral, > 0 warm (amber), < 0 cool
        (blue); tint ~0 neutral, > 0 magenta, < 0 green; trust 0..1 in the tint, 1 while the
        mean CIELAB a*b* of those pixels has chroma <= ``_TINT_TRUST[0]``, 0 from ``[1]``.
    """
    lab = to_lab(rgb)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    judged = (lab[..., 0] > 15) & (lab[..., 0] < 97)
    if np.count_nonzero(judged) < 20:
        return 0.0, 0.0, 0.0
    neutral = judged & (chroma <= np.quantile(chroma[judged], _NEUTRAL_SHARE))
    r, g, b = np.log(np.maximum(srgb_to_linear(rgb[neutral] / 255.0).mean(axis=0), 1e-6))
    spread = float(np.hypot(*lab[neutral][:, 1:].mean(axis=0)))
    low, high = _TINT_TRUST
    trust = min(max((high - spread) / (high - low), 0.0), 1.0)
    return float((r - b) / np.sqrt(2)), float((r + b - 2 * g) / np.sqrt(6)), trust


_TINT_TRUST = (10.0, 20.0)  # CIELAB chroma of the near-neutral mean: tint trusted fully .. not at all


def warmth(rgb: np.ndarray) -> float:
    """Colour temperature of a photo's near-neutral pixels (see :func:`neutral_colour`).

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image, normally a thumbnail (~160 px).

    Returns:
        ``(log R/G - log B/G) / sqrt 2`` of their mean linear colour: ~0 neutral, > 0 warm
        (amber), < 0 cool (blue).
    """
    return neutral_colour(rgb)[0]


def cast_temperature(correction: Correction) -> float:
    """Temperature of the cast the base correction undid, ``(log R/G - log B/G) / sqrt 2``.

    > 0: the photo had a warm (amber) cast that was taken out; < 0 a cool (blue) one; 0 none.
    """
    return float(correction.cast[0] - correction.cast[1]) / np.sqrt(2)



def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB of a ``(H, W, 3)`` uint8 sRGB image: ``(H, W, 3)`` float32, L* 0..100 (OpenCV, D65)."""
    return cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2Lab)

