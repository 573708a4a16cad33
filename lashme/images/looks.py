"""The studio engine's looks: what each preset does to the corrected base, pixel by pixel.

Each preset's look (:class:`Style`, :data:`STYLES`) is applied to the corrected base of
:mod:`lashme.images.corrected_base`: edge-preserving smoothing on skin only, a per-channel
tone/colour curve, saturation, clarity, glow and a dark-detail sharpening that spares skin.
Only tone changes: no pixel moves, so lashes, brows and nails keep their exact shape, and every
curve rolls off instead of clipping.

The looks: ``natural`` (clean, true colour), ``warm_glow`` (warm light, gentle skin, a soft
golden glow), ``crisp_detail`` (contrast, colour and micro-contrast on the work; skin is not
smoothed and its texture is not sharpened) and ``soft_focus`` (soft beauty: luminous, airy
light, smooth skin, clean whites, lashes still defined; no vignette).  Parameters are tuned for
a 2048 px long side; spatial radii scale with the image.  The styled looks set their colour per
photo (:func:`adapted_look`): warmth from the base's near-neutral pixels and the cast the base
undid (:func:`_temperature_shift`), and the green a warm lamp leaves after the base correction
took it out (:attr:`Style.tint`), so a lamp-lit photo gets the same golden, crisp or soft look
as a clean one, not the lamp's yellow-green.  A look's tone/colour part scales
(:func:`scaled_look`; the strength per photo is calibrated in :mod:`lashme.images.rendering`),
and :func:`colour`, :func:`look_layers` and :func:`tone` are its per-pixel chain.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np

from lashme.images import retouch
from lashme.images.corrected_base import Base, cast_temperature
from lashme.images.correction import linear_to_srgb, srgb_to_linear, to_u8
from lashme.providers.base import STUDIO_PRESETS

__all__ = [
    "CAST_LEAN",
    "STYLES",
    "Style",
    "adapted_look",
    "colour",
    "look_layers",
    "saturate",
    "scaled_look",
    "tone",
]

_CODES = np.arange(256) / 255.0
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # cv2.COLOR_RGB2GRAY (BT.601 luma)
_CLARITY_SKIN = 2.0  # clarity fades out on skin, fully off from membership 0.5: skin texture stays
_CLARITY_CLOSE = 100  # skin holes up to ~1/100 of the photo count as skin for clarity


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
        temperature_scale: share of that shift applied; :func:`~lashme.images.rendering.amount`
            scaling a look down on a photo it changes a lot (a pale portrait) scales its warmth
            down with it.
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
    temperature_scale: float = 1.0  # share of the temperature shift applied (set by scaled_look)
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


#: Share of the white-balance correction the base made that a look leans further against it.
#: The base correction stops at the edge of the accepted neutral range and takes the median
#: of its estimates, so a real cast is typically undone by only half to three quarters (see
#: ``benchmarks/bench_quality.py``); a look's own colour shift must not re-add it.
CAST_LEAN = 0.3
_LEAN_ROOM = 0.1  # how far below its own lowest shift the lean may take a look


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


def adapted_look(base: Base, look: Style) -> Style:
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



def scaled_look(look: Style, scale: float) -> Style:
    """``look`` with its tone/colour part scaled by ``scale`` (retouching unchanged)."""
    if scale == 1.0:
        return look
    curves = None  # the per-photo temperature shift is put in after (adapted_look), scaled down only
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


def colour(rgb: np.ndarray, look: Style, *, clamp: bool = True) -> np.ndarray:
    """A look's per-pixel steps: curves, then saturation (unclamped when ``clamp`` is false)."""
    out = _curve(rgb, look)
    if look.saturation != 1.0:
        out = saturate(out, look.saturation, clamp=clamp)
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


def look_layers(look: Style, source: np.ndarray, skin: np.ndarray, shape: tuple[int, ...]) -> _Layers:
    """Build a look's low-frequency layers for an image of ``shape``.

    Args:
        look: the (scaled) look.
        source: ``(h, w, 3)`` uint8 low-resolution copy of the image, toned by the look's
            curves and saturation (:func:`colour`); the layers are blurred far beyond its
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


def tone(
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
    out = saturate(curved, look.saturation, clamp=False) if look.saturation != 1.0 else curved
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



def saturate(rgb: np.ndarray, factor: float, *, clamp: bool = True) -> np.ndarray:
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
