"""The local "studio" provider: one corrected base per photo, then four honest looks.

Plain Python (numpy + OpenCV), no Reflex import, no network.  For each photo the engine

1. decodes it once and measures it once (:func:`prepare`): the automatic base correction of
   :mod:`lashme.images.correction` (veil, white balance with a confidence and a cap, exposure,
   highlight roll-off), a skin mask (:mod:`lashme.images.skin`) and the lash-scale detail
   layer (:mod:`lashme.images.retouch`) -- all shared by the presets;
2. applies each preset's style to that base (:func:`style`): edge-preserving smoothing on skin
   only, a per-channel tone/colour curve, saturation, clarity, glow and a dark-detail
   sharpening that spares skin.  Only tone changes: no pixel moves, so lashes, brows and nails
   keep their exact shape, and every curve rolls off instead of clipping.

The looks (:data:`STYLES`): ``natural`` (clean, true colour), ``warm_glow`` (warm light,
gentle skin, a soft golden glow), ``crisp_detail`` (contrast, colour and micro-contrast on the
work; skin is not smoothed and its texture is not sharpened) and ``soft_focus`` (soft beauty:
luminous, airy light, smooth skin, clean whites, lashes still defined; no vignette).  They
differ visibly even as thumbnails.  Parameters are tuned for a 2048 px long side; spatial
radii scale with the image.  Each look's tone/colour strength is calibrated per photo
(:func:`amount`) so that its thumbnail lies :data:`DISTINCTNESS` (mean CIELAB dE) from the
corrected base: four clearly different choices, none further from the photo than that.  The
styled looks also set their colour per photo: warmth from the base's near-neutral pixels and
the cast the base undid (:func:`_temperature_shift`), and the green a warm lamp leaves after the
base correction taken out (:attr:`Style.tint`), so a lamp-lit photo gets the same golden, crisp
or soft look as a clean one, not the lamp's yellow-green.  For the same input every preset
returns identical pixels.

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

from lashme.images import retouch, working_copy
from lashme.images.correction import (
    STATS_SIDE,
    Correction,
    apply,
    estimate,
    linear_to_srgb,
    srgb_to_linear,
    to_u8,
)
from lashme.images.presets import PresetMissing
from lashme.images.skin import skin_mask
from lashme.providers.base import STUDIO_PRESETS, GeneratedVariant, JobContext, ProviderError

__all__ = [
    "BASE_DETAIL",
    "DEFAULT_SETTINGS",
    "PARAM_SPECS",
    "PIPELINES",
    "STYLES",
    "Base",
    "Style",
    "StudioProvider",
    "StudioSettings",
    "crisp_detail",
    "natural",
    "prepare",
    "render",
    "soft_focus",
    "style",
    "warm_glow",
]

_WORK_SIDE = 512  # resolution of the skin mask and the guided filter for a 2048 px photo
_REF_SIDE = 2048
_CODES = np.arange(256) / 255.0
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # cv2.COLOR_RGB2GRAY (BT.601 luma)


@dataclass(frozen=True)
class Style:
    """One preset's look, applied to the corrected base in this order.

    Attributes:
        smoothing: share of the guided-filter result on full skin, 0..1.
        curves: ``(256, 3)`` uint8 per-channel tone/colour lookup table (``None`` = identity).
        saturation: chroma gain around each pixel's luma (1 = unchanged).
        clarity: mid-frequency local contrast gain off skin (0 = none).
        glow: opacity of the screen-blended highlight glow (0 = none).
        glow_tint: RGB gains of the glow.
        detail: dark-detail unsharp gain (lashes, brow hairs, nail edges; skin texture is cored out).
        temperature: ``(target, lowest, highest)`` per-photo colour temperature shift, in
            log-chroma units ``(log R/G - log B/G) / sqrt 2`` (0.1 ~ 2.5 b* on a neutral): the
            look shifts the corrected base's near-neutral warmth (:attr:`Base.warmth`) towards
            ``target``, by at least ``lowest`` and at most ``highest``.  So a look never pushes
            further in the direction of a cast the base correction left (a still-warm base gets
            less warmth, a still-cool one no more blue) and may take some of it out.  Applied
            before ``curves``; ``(0, 0, 0)`` = none.
        temperature_scale: share of that shift applied; :func:`amount` scaling a look down
            on a photo it changes a lot (a pale portrait) scales its warmth down with it.
        tint: ``(target, lowest, highest)`` per-photo green-magenta shift, in log-chroma units
            ``(log R + log B - 2 log G) / sqrt 6`` (> 0 towards magenta): the look moves the
            base's near-neutral tint (:attr:`Base.tint`) towards ``target`` within those
            bounds, times :attr:`Base.tint_trust` and ``temperature_scale``.  With ``lowest``
            0 it only takes out green: the yellow-green a warm lamp's light leaves on whites
            and skin after the base correction (it undoes the cast's temperature, not the
            green of the lamp's Planckian light), which reads as the lamp kept and as sallow
            skin.  ``(0, 0, 0)`` = none.
    """

    smoothing: float = 0.0
    curves: np.ndarray | None = None
    saturation: float = 1.0
    clarity: float = 0.0
    glow: float = 0.0
    glow_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    detail: float = 0.0
    temperature: tuple[float, float, float] = (0.0, 0.0, 0.0)
    temperature_scale: float = 1.0  # share of the temperature shift applied (set by _scaled)
    tint: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _curves(gains=(1.0, 1.0, 1.0), *, exposure=1.0, contrast=0.0, lift=0.0) -> np.ndarray:
    """A look's ``(256, 3)`` uint8 per-channel LUT.

    Linear gains and exposure with a highlight shoulder, then an encoded S-curve
    (``contrast`` > 0) or flattening (< 0) and a shadow lift ``lift x (1 - x)^3``.
    """
    lin = srgb_to_linear(_CODES)[:, None] * np.asarray(gains) * exposure
    top = float(lin.max())
    if top > 1:  # roll highlights off (same C1 shoulder as the base correction)
        knee = max(2.0 - top, 0.0) * 0.8
        power = (top - knee) / (1 - knee)
        t = np.clip((lin - knee) / (top - knee), 0, 1)
        lin = np.where(lin > knee, knee + (1 - knee) * (1 - (1 - t) ** power), lin)
    x = linear_to_srgb(lin)
    smooth = x * x * (3 - 2 * x)
    x = x + contrast * (smooth - x)
    x = x + lift * (1 - x) ** 3
    return _unclipped(to_u8(x))


def _unclipped(curves: np.ndarray) -> np.ndarray:
    """``(256, 3)`` uint8 curves that map no code inside 1..254 to 0 or 255 (a curve never clips)."""
    out = curves.copy()
    out[1:255] = np.clip(out[1:255], 1, 254)
    return out


#: A look's tint (:attr:`Style.tint`) that takes out a lamp's leftover green, up to a faint
#: magenta of +0.03 (balanced photos read +0.03..+0.09 and are left alone), by at most 0.1.
_NO_GREEN = (0.03, 0.0, 0.1)

#: The looks, by preset name (the order of :data:`lashme.providers.base.STUDIO_PRESETS`).
STYLES: dict[str, Style] = {
    "natural": Style(smoothing=0.25, detail=0.55),  # detail 0.55 = BASE_DETAIL: shared work
    "warm_glow": Style(  # golden light, gentle skin
        smoothing=0.45,
        curves=_curves((1.0, 0.97, 0.93), exposure=1.1, lift=0.015),  # golden; the warmth is per photo
        saturation=1.04,
        glow=0.24,
        glow_tint=(1.0, 0.85, 0.62),
        detail=1.1,  # the glow and lifted blacks soften lash contrast: win it back
        # warmth up to a warm result (0.4): a base still warm gets less (and a less golden glow)
        temperature=(0.4, 0.03, 0.25),
        tint=_NO_GREEN,  # golden, not the lamp's yellow-green: peachy skin, cream whites
    ),
    "crisp_detail": Style(  # deep, neutral, micro-contrast off skin; no colour push
        curves=_curves(exposure=0.94, contrast=0.5),
        clarity=0.7,
        detail=1.2,
        temperature=(0.1, -0.1, 0.1),  # neutral whites: a leftover cast is taken out, never pushed
        tint=_NO_GREEN,
    ),
    "soft_focus": Style(  # luminous, airy, clean whites; lashes stay defined
        smoothing=0.75,
        # brighter, not flatter: blacks stay put (a lift or a flattening would re-add the veil
        # or low contrast the base just removed)
        curves=_curves((1.02, 1.0, 1.02), exposure=1.2),
        saturation=0.93,
        glow=0.15,
        glow_tint=(1.0, 0.98, 1.0),
        detail=1.0,  # soft light, not soft lashes
        temperature=(0.15, -0.1, 0.1),  # clean, faintly warm whites: a leftover cast is taken out
        tint=_NO_GREEN,
    ),
}
assert tuple(STYLES) == STUDIO_PRESETS


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
            :data:`_THUMB_SIDE`), on which each look's strength is calibrated (:func:`amount`).
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
    for top in range(0, rgb.shape[0], _BAND_ROWS):  # per pixel from here: band by band (see style)
        rows = slice(top, top + _BAND_ROWS)
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
    lab = _lab(rgb)
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


#: Share of the white-balance correction the base made that a look leans further against it.
#: The base correction stops at the edge of the accepted neutral range and takes the median
#: of its estimates, so a real cast is typically undone by only half to three quarters (see
#: ``benchmarks/bench_quality.py``); a look's own colour shift must not re-add it.
CAST_LEAN = 0.3
_LEAN_ROOM = 0.1  # how far below its own lowest shift the lean may take a look


def cast_temperature(correction: Correction) -> float:
    """Temperature of the cast the base correction undid, ``(log R/G - log B/G) / sqrt 2``.

    > 0: the photo had a warm (amber) cast that was taken out; < 0 a cool (blue) one; 0 none.
    """
    return float(correction.cast[0] - correction.cast[1]) / np.sqrt(2)


def _temperature_shift(base: Base, look: Style) -> float:
    """A look's per-photo colour temperature shift (log-chroma units, > 0 warmer).

    The look's own shift towards its target (:attr:`Style.temperature`), then leaning against
    the cast the base correction found by :data:`CAST_LEAN` of it: on a photo that came in
    warm, a warm look adds less warmth and a neutral look takes a little more out; on one that
    came in cool, every look warms slightly.  So no look re-adds the flaw the base undid.  The
    result is at most the look's ``highest``; a look that may take warmth out (``lowest`` < 0)
    may take up to :data:`_LEAN_ROOM` more.  A look that only warms (``lowest`` >= 0) leans
    only after a warm cast (less warmth, down to its ``lowest``): after a cool one its own
    warmth already leans against the cast.
    """
    target, lowest, highest = look.temperature
    shift = min(max(target - base.warmth, lowest), highest)
    lean = CAST_LEAN * cast_temperature(base.correction)
    if lowest >= 0:  # a look that only warms: less warmth after a warm cast, no extra after a cool one
        return min(max(shift - max(lean, 0.0), lowest), highest)
    return min(max(shift - lean, lowest - _LEAN_ROOM), highest)


def _adapted(base: Base, look: Style) -> Style:
    """``look`` with its per-photo colour shifts put into its curves.

    The temperature shift of :func:`_temperature_shift` and the tint shift of
    :attr:`Style.tint` (scaled by :attr:`Base.tint_trust`), both times
    :attr:`Style.temperature_scale`.
    """
    _, lowest, highest = look.temperature
    if lowest == highest == 0 and look.tint == (0.0, 0.0, 0.0):
        return look
    shift = _temperature_shift(base, look) * look.temperature_scale
    target, low, high = look.tint
    tint = min(max(target - base.tint, low), high) * base.tint_trust * look.temperature_scale
    changes: dict[str, Any] = {}
    if highest > 0 and look.glow_tint != (1.0, 1.0, 1.0):  # a warm glow warms as far as the curves may
        room = max(shift, 0.0) / highest
        changes["glow_tint"] = tuple(1.0 + room * (t - 1.0) for t in look.glow_tint)
    if abs(shift) >= 1e-3 or abs(tint) >= 1e-3:
        half, third = shift / np.sqrt(2), tint / np.sqrt(6)  # log gains: (h, 0, -h) + (t, -2 t, t)
        table = _curves((float(np.exp(half + third)), float(np.exp(-2 * third)), float(np.exp(third - half))))
        if look.curves is not None:
            table = np.stack([look.curves[table[:, c], c] for c in range(3)], axis=1)
        changes["curves"] = _unclipped(table)
    return Style(**{**{f.name: getattr(look, f.name) for f in fields(Style)}, **changes}) if changes else look


#: Mean CIELAB dE (CIE76) a look keeps from ``natural`` at thumbnail size: clearly another
#: choice in the gallery, yet no further from the true photo than that.
DISTINCTNESS = 6.7
_THUMB_SIDE = 160
_GLOW_SIDE = 192  # resolution the glow layer is built at (retouch.glow)
_CLARITY_SKIN = 2.0  # clarity fades out on skin, fully off from membership 0.5: skin texture stays
_CLARITY_CLOSE = 100  # skin holes up to ~1/100 of the photo count as skin for clarity
_BAND_ROWS = 64  # rows per band of a look's per-pixel chain (~400 kB a 2048 px image, fits L2)
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
    ref = _lab(base.thumb)
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
    scaled = _adapted(base, _scaled(look, scale))
    layers = _layers(scaled, _colour(base.thumb, scaled, clamp=False), base.thumb_skin, base.thumb.shape)
    return _lab(_tone(base.thumb, scaled, layers))


def _scaled(look: Style, scale: float) -> Style:
    """``look`` with its tone/colour part scaled by ``scale`` (retouching unchanged)."""
    if scale == 1.0:
        return look
    curves = None  # the per-photo temperature shift is put in after (_adapted), scaled down only
    if look.curves is not None:
        identity = np.arange(256, dtype=np.float32)[:, None]
        curves = np.clip(identity + scale * (look.curves.astype(np.float32) - identity) + 0.5, 0, 255)
        curves = _unclipped(curves.astype(np.uint8))
    return Style(
        smoothing=look.smoothing,
        curves=curves,
        saturation=1.0 + scale * (look.saturation - 1.0),
        clarity=look.clarity * scale,
        glow=look.glow * scale,
        glow_tint=look.glow_tint,
        detail=look.detail,
        temperature=look.temperature,
        tint=look.tint,
        temperature_scale=look.temperature_scale * min(scale, 1.0),  # weaker, never stronger
    )


def _curve(rgb: np.ndarray, look: Style) -> np.ndarray:
    """A look's tone curves (one LUT pass; a single table when the channels share it)."""
    if look.curves is None:
        return rgb
    curves = look.curves
    if (curves == curves[:, :1]).all():  # neutral: OpenCV's one-table LUT is ~2x faster
        return cv2.LUT(rgb, np.ascontiguousarray(curves[:, 0]))
    return cv2.LUT(rgb, curves.reshape(1, 256, 3))


def _colour(rgb: np.ndarray, look: Style, *, clamp: bool = True) -> np.ndarray:
    """A look's per-pixel steps: curves, then saturation (unclamped when ``clamp`` is false)."""
    out = _curve(rgb, look)
    if look.saturation != 1.0:
        out = _saturate(out, look.saturation, clamp=clamp)
    return out


@dataclass(frozen=True)
class _Layers:
    """A look's low-frequency layers at the output size (each ``None`` when the look has no use).

    Attributes:
        blurred: ``(H, W)`` uint8 blurred luma clarity works against (:func:`retouch.clarity_base`).
        keep: ``(H, W)`` uint8 share of clarity kept, 255 off skin.
        glow: ``(H, W, 3)`` uint8 glow layer (:func:`retouch.glow_layer`).
    """

    blurred: np.ndarray | None = None
    keep: np.ndarray | None = None
    glow: np.ndarray | None = None

    def rows(self, rows: slice) -> _Layers:
        """The same layers cut to ``rows``."""
        return _Layers(*(None if a is None else a[rows] for a in (self.blurred, self.keep, self.glow)))


def _layers(look: Style, source: np.ndarray, skin: np.ndarray, shape: tuple[int, ...]) -> _Layers:
    """Build a look's low-frequency layers for an image of ``shape``.

    Args:
        look: the (scaled) look.
        source: ``(h, w, 3)`` uint8 low-resolution copy of the image, toned by the look's
            curves and saturation (:func:`_colour`); the layers are blurred far beyond its
            pixels, so a toned copy of the downscaled base stands in for the styled image.
        skin: ``(h', w')`` float32 skin membership of the image at any resolution.
        shape: ``(H, W, ...)`` of the output.
    """
    blurred = keep = layer = None
    if look.clarity > 0:
        blurred = retouch.clarity_base(cv2.cvtColor(source, cv2.COLOR_RGB2GRAY), shape)
        # the skin mask leaves out dark spots inside skin (freckles, pores: "darker than their
        # surroundings"); clarity works at ~1/40 of the photo, far coarser than lashes, so it is
        # spared on skin with those holes closed (a max filter ~1/100 of the mask's side)
        size = max(3, round(max(skin.shape) / _CLARITY_CLOSE) | 1)
        closed = cv2.dilate(skin, np.ones((size, size), np.uint8))
        keep = retouch.upsample(to_u8(1 - np.minimum(closed * _CLARITY_SKIN, 1)), shape)
    if look.glow > 0:
        layer = retouch.glow_layer(source, look.glow, look.glow_tint, shape)
    return _Layers(blurred, keep, layer)


def _tone(
    rgb: np.ndarray, look: Style, layers: _Layers, *, detail: tuple[np.ndarray, float] | None = None
) -> np.ndarray:
    """A look's tone and colour steps, then the optional extra dark-detail sharpening.

    Curves, saturation, clarity off skin and glow, then ``detail = (detail layer, amount)``.
    Per pixel given the look's :class:`_Layers`, so it runs on any band of rows.  Luma
    changes that follow each other (clarity and sharpening without a glow between them) are
    netted and applied to the colour image in one pass (:func:`retouch.add_maps`), and no step
    makes a clipped channel that the curves' output did not have: that is checked once, at the
    end, against the curves' output.
    """
    curved = _curve(rgb, look)
    out = _saturate(curved, look.saturation, clamp=False) if look.saturation != 1.0 else curved
    maps = []
    if look.clarity > 0:
        maps.append(retouch.clarity_maps(out, look.clarity, layers.blurred, layers.keep))
    if look.glow > 0:
        if maps:
            out = retouch.add_maps(out, *maps, reference=curved)
            maps = []
        out = retouch.screen(out, layers.glow)
    if detail is not None and detail[1] > 0:
        maps.append(retouch.dark_detail_maps(*detail))
    return retouch.add_maps(out, *maps, reference=curved)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2Lab)


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
    toned = _adapted(base, _scaled(look, amount(base, look) if scale is None else scale))
    layers = _layers(toned, _colour(base.tiny, toned, clamp=False), base.skin, base.corrected.shape)
    # every remaining step is per pixel: run the chain band by band, so that its intermediate
    # images stay in the CPU cache (about twice as fast as whole-image passes)
    out = np.empty_like(base.corrected)
    for top in range(0, out.shape[0], _BAND_ROWS):
        rows = slice(top, top + _BAND_ROWS)
        mixed = cv2.addWeighted(sharpened[rows], 1.0 - s, smoothed[rows], s, 0) if s > 0 else sharpened[rows]
        out[rows] = _tone(mixed, toned, layers.rows(rows), detail=(base.detail[rows], extra))
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
        out = _saturate(out, settings.saturation)
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


def _saturate(rgb: np.ndarray, factor: float, *, clamp: bool = True) -> np.ndarray:
    """Scale chroma around each pixel's luma by ``factor`` (1 = unchanged, 0 = grey).

    Raising saturation makes no new clipped channel: a channel that would leave 1..254 stops
    there (unless it was already outside), at the cost of a slight hue shift at the gamut edge
    (``clamp`` false leaves that to the caller, :func:`retouch.keep_clipping`).
    """
    # one 3x3 colour matrix: factor x rgb + (1 - factor) x luma (OpenCV's RGB -> grey weights)
    matrix = factor * np.eye(3) + (1.0 - factor) * np.tile(_GREY_WEIGHTS, (3, 1))
    out = cv2.transform(rgb, matrix.astype(np.float32))
    if factor <= 1.0 or not clamp:
        return out
    return retouch.keep_clipping(out, rgb)
