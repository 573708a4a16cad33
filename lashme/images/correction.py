"""Automatic base correction of a photo: veil/black level, white balance, exposure, highlight roll-off.

Plain numpy + OpenCV, no Reflex import.  :func:`estimate` measures a photo once, on a small
copy (~256 px long side, a few ms for a 2048 px image), and returns a :class:`Correction`;
:func:`apply` turns it into one 256-entry lookup table per channel and applies it to the
full-resolution ``(H, W, 3)`` ``uint8`` RGB array (a few ms), so every studio preset can start
from the same corrected base.  All steps are global and monotone: no pixel moves, no tone is
posterized (the curves are built in float and quantised once), and highlights roll off
smoothly instead of clipping.

Steps (2-4 in linear light, IEC 61966-2-1 sRGB decoding):

1. **Veil / black level** (haze, flat low-contrast shots), on encoded values: the 1st
   percentile of each pixel's darkest channel (the global form of the dark channel prior,
   He, Sun & Tang, CVPR 2009) is the veil; what lies above a natural black is subtracted
   equally from the three channels, and when there was a veil the whites it greyed are
   stretched back (a photo without a veil keeps its white level).
2. **White balance: only the cast most estimates see, capped**.  Three estimates in
   log-chroma ``(log R/G, log B/G)``: grey edge on all mid-tone edges (van de Weijer, Gevers &
   Gijsenij, IEEE TIP 2007; first order, Minkowski p = 6), the same on the least saturated
   edges only (edges between near-neutral surfaces and shading edges carry the illuminant's
   colour, not a surface's: the photometric edge weighting of Gijsenij, Gevers & van de
   Weijer, IEEE TPAMI 2012), and white patch on the brightest near-neutral unclipped pixels.
   Each estimate's excess over an accepted, slightly warm neutral range is split into
   temperature (blue-amber) and tint (green-magenta, counted less); on each axis the cast is
   the median of the three excesses (two must agree on a direction), so a colourful scene --
   a blue dusk sky over a white rocket, a ginger cat on a white blanket, a red saucer --
   keeps its colours, while a real cast, which tints every kind of evidence alike, is
   undone.  The correction is capped, and applied as a white point: the strongest channel
   keeps its level and the weak ones come up.
3. **Exposure**: a gain bringing the 99th luminance percentile up to a target, unless the mean
   luminance (a dim but well-exposed scene) or the 99.8th percentile (the lamps of a dusk
   scene) reaches its own target first; brightens only.
   Then a mid-tone gamma nudges the median into a comfortable band (half strength).
4. **Highlight protection**: values that the gains push past 1 roll off above a knee along a
   C1 quadratic shoulder instead of clipping; shadows are never lifted above their input by
   the black-level step (it only darkens a veil).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["STATS_SIDE", "Correction", "apply", "decode_lut", "estimate", "linear_to_srgb", "srgb_to_linear"]

LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 / sRGB relative luminance weights
_CODES = np.arange(256) / 255.0
STATS_SIDE = 256  # long side of the copy statistics are measured on

# 1. veil
_VEIL_PERCENTILE = 1.0  # percentile of the per-pixel minimum channel
_NATURAL_BLACK = 0.05  # encoded: a veil below this is a normal black
_VEIL_STRENGTH = 0.95
_VEIL_MAX = 0.6
_VEIL_FULL = 0.06  # encoded veil from which the whites are fully restored too
_WHITE_PERCENTILE = 99.5  # percentile of the per-pixel maximum channel: the white level
_VEIL_WHITE = 0.96  # encoded white level a veiled photo is stretched back to
# 2. white balance, log-chroma (log R/G, log B/G)
_WB_TEMP_RANGE = (0.05, 0.2)  # accepted temperature (log R/G - log B/G) / sqrt 2: neutral .. warm
_WB_TINT_RANGE = (-0.1, 0.15)  # accepted tint (log R/G + log B/G) / sqrt 2: green .. magenta
_WB_CAP = 0.8  # at most ~x2.2 on one channel ratio
_WB_TINT_WEIGHT = 0.6  # green-magenta counts less than blue-amber
_WB_STRENGTH = 1.0
_WB_NOISE = 0.08  # log-chroma excess (~2 b* on a grey) below which a cast fades out
_NEUTRAL_EDGE_SHARE = 0.3  # least saturated share of the pixels whose edges vote as neutral edges
_WHITE_QUANTILE = 0.97
_WHITE_SATURATION = 0.5  # encoded saturation above which a bright pixel is no white reference
# 3. exposure
_WHITE_TARGET = 0.62  # linear luminance the 99th percentile is brought up to (~0.85 encoded) ...
_MEAN_TARGET = 0.2  # ... unless the mean linear luminance reaches this first (a bright scene)
_PEAK_PERCENTILE = 99.8  # ... or the light sources / speculars of a night scene reach this:
_PEAK_TARGET = 0.8  # a dusk scene with lit lamps is not under-exposed
_MAX_GAIN = 4.0  # +2 EV
_MID_BAND = (0.18, 0.6)  # comfortable median luma, encoded
_MID_STRENGTH = 0.5
_GAMMA_LIMITS = (0.75, 1.1)
# 4. highlights
_SHOULDER_KNEE_SCALE = 1.0  # knee position relative to the C1 quadratic one (<= 1: softer)


@dataclass(frozen=True)
class Correction:
    """What :func:`estimate` measured and decided for one photo.

    Attributes:
        veil: encoded level subtracted from every channel (0 = none).
        stretch: encoded gain after the veil is removed (1 = none; whites greyed by a veil
            are brought back).
        gains: ``(3,)`` linear per-channel gains (white balance x exposure), before the shoulder.
        gamma: mid-tone gamma on the encoded result (1 = none; < 1 brightens).
        cast: ``(2,)`` log-chroma ``(log R/G, log B/G)`` of the cast shared by the estimates,
            before the cap (zero when they disagree).
        wb_confidence: 0..1, the shared cast's size relative to the largest single estimate's
            excess (1 = every estimate saw the same cast).
        exposure: luminance gain (1 = none).
    """

    veil: float
    stretch: float
    gains: np.ndarray
    gamma: float
    cast: np.ndarray
    wb_confidence: float
    exposure: float

    def curves(self) -> np.ndarray:
        """The correction as ``(256, 3)`` float curves, encoded 0..1 in -> encoded 0..1 out."""
        levelled = _shoulder(np.maximum(_CODES - self.veil, 0) * self.stretch, (1 - self.veil) * self.stretch)
        lin = srgb_to_linear(levelled)[:, None] * self.gains
        return linear_to_srgb(_shoulder(lin, float(self.gains.max()))) ** self.gamma

    def lut(self) -> np.ndarray:
        """:meth:`curves` as an OpenCV per-channel lookup table ``(1, 256, 3)`` uint8."""
        return to_u8(self.curves()).reshape(1, 256, 3)

    @property
    def is_identity(self) -> bool:
        """True when the correction changes nothing."""
        return bool(np.array_equal(self.lut()[0], np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)))


def estimate(rgb: np.ndarray) -> Correction:
    """Measure a photo and decide its base correction.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image, any size (statistics use a ~256 px copy; a
            downscaled copy of the photo gives the same decision, so callers that already
            have one may pass it).

    Returns:
        The :class:`Correction`; deterministic for the same pixels.
    """
    small = _small(rgb)
    # 1. veil, on encoded values (every per-value step below is a 256-entry table indexed by code)
    codes = np.arange(256, dtype=np.float32) * (1 / 255)
    lowest, highest = _channel_min(small), _channel_max(small)
    veil = float(np.percentile(codes[lowest], _VEIL_PERCENTILE)) - _NATURAL_BLACK
    veil = min(max(veil * _VEIL_STRENGTH, 0.0), _VEIL_MAX)
    top = float(np.percentile(codes[highest], _WHITE_PERCENTILE)) - veil
    veiled = min(veil / _VEIL_FULL, 1.0)  # how sure we are that a veil greyed the whites too
    # the whites come back no further than the veil's own contrast loss (1 - 2 veil for a flat
    # veil, about that for haze) suggests, so a scene without real whites keeps its level
    stretch = min(_VEIL_WHITE / max(top, 1e-3), 1 / max(1 - 2 * veil, 0.2))
    stretch = 1.0 + veiled * max(stretch - 1.0, 0.0)
    levelled = _shoulder(np.maximum(codes - veil, 0) * stretch, (1 - veil) * stretch)
    lin = srgb_to_linear(levelled).astype(np.float32)[small]
    # 2. white balance
    cast, confidence = _cast(to_u8(levelled)[small], lin)
    correction = _capped(cast) * _WB_STRENGTH
    wb = np.array([math.exp(-correction[0]), 1.0, math.exp(-correction[1])])
    wb /= wb.min()  # the strongest channel keeps its level, the weak ones come up (Levels white point)
    # 3. exposure
    luma = (lin * wb) @ LUMA
    bright, peak = (float(v) for v in np.percentile(luma, [99, _PEAK_PERCENTILE]))
    exposure = min(
        _WHITE_TARGET / max(bright, 1e-6),
        _MEAN_TARGET / max(float(luma.mean()), 1e-6),
        _PEAK_TARGET / max(peak, 1e-6),
    )
    exposure = min(max(exposure, 1.0), _MAX_GAIN)
    gains = wb * exposure
    encoded = linear_to_srgb(_shoulder(luma * exposure, exposure * float(wb.max())))
    median = float(np.median(encoded))
    target = min(max(median, _MID_BAND[0]), _MID_BAND[1])
    gamma = 1.0
    if target != median and 0.01 < median < 0.99:
        gamma = (math.log(target) / math.log(median)) ** _MID_STRENGTH
        gamma = min(max(gamma, _GAMMA_LIMITS[0]), _GAMMA_LIMITS[1])
    return Correction(
        veil=veil,
        stretch=stretch,
        gains=gains,
        gamma=gamma,
        cast=cast,
        wb_confidence=confidence,
        exposure=exposure,
    )


def apply(rgb: np.ndarray, correction: Correction) -> np.ndarray:
    """Apply a correction to a full-resolution image.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image.
        correction: from :func:`estimate` (usually of the same image).

    Returns:
        A new ``(H, W, 3)`` uint8 image (one per-channel LUT pass).
    """
    return cv2.LUT(rgb, correction.lut())


# --- white balance ---------------------------------------------------------------------------


def _cast(small: np.ndarray, lin: np.ndarray) -> tuple[np.ndarray, float]:
    """The colour cast to undo (log-chroma), and the trust in it.

    A cast tints everything: the edges of the mid-tones, the edges between near-neutral
    surfaces and the brightest near-white surfaces alike.  A colourful scene tints only some of
    them (a blue sky leaves the white rocket and its lamps alone; a ginger cat's fur edges read
    warm while the white blanket beside it stays white).  Three estimates vote:

    - grey edge on all mid-tone edges (:func:`_grey_edges`, van de Weijer et al. 2007);
    - grey edge on the least saturated edges only (:func:`_grey_edges`): edges between
      near-neutral surfaces, shading and specular edges carry the illuminant's colour and no
      surface colour (the photometric edge weighting of Gijsenij, Gevers & van de Weijer,
      IEEE TPAMI 2012), so a scene dominated by one colour (a ginger cat, a red saucer) does
      not pull it;
    - white patch on the brightest unclipped near-neutral pixels (:func:`_white_patch`).

    On each axis (temperature and tint) each estimate's excess over the accepted neutral range
    is taken (:func:`_excess`) and the cast is the **median of the three**: two of three
    estimates must see a cast in the same direction, and its size is the middle one, so one
    estimate fooled by the scene (the fur edges of a ginger cat, the sodium lamps of a dusk
    scene) neither invents a cast nor vetoes a real one.  An excess smaller than
    :data:`_WB_NOISE` -- the spread of the estimates on balanced photos -- fades out smoothly.

    Returns:
        ``(cast (2,), confidence 0..1)``: the median excess in log-chroma (before the cap),
        and its size relative to the largest single estimate's (1 = they all agree).
    """
    valid = (_channel_max(small) < 245) & (_channel_min(small) > 6)
    if np.count_nonzero(valid) < 200:
        return np.zeros(2), 0.0
    edges, neutral_edges = _grey_edges(small, lin, valid)
    stacked = np.stack([_excess(edges), _excess(neutral_edges), _excess(_white_patch(lin, valid))])
    shared = np.median(stacked, axis=0)  # (2,): temperature, tint
    # an excess within the estimates' own noise is no evidence: it fades in smoothly (smoothstep
    # up to _WB_NOISE), so a balanced photo whose estimates sit just outside the range is left alone
    ramp = np.clip(np.abs(shared) / _WB_NOISE, 0, 1)
    shared = shared * ramp * ramp * (3 - 2 * ramp)
    largest = float(np.abs(stacked).max())
    confidence = 1.0 if largest < 1e-9 else float(np.abs(shared).max() / largest)
    t, g = shared
    return np.array([t + g, g - t]) / math.sqrt(2), confidence


def _excess(cast: np.ndarray) -> np.ndarray:
    """A log-chroma illuminant estimate's excess over the accepted neutral range.

    The estimate is split into temperature ``t`` (blue-amber, where real illuminants lie) and
    tint ``g`` (green-magenta); each keeps only its excess over an accepted range -- wider on
    the warm side, because well-balanced photos of skin, wood and lamp-lit rooms read warm --
    and tint counts less.

    Returns:
        ``(2,)`` ``(t excess, g excess)``.
    """
    t = (cast[0] - cast[1]) / math.sqrt(2)
    g = (cast[0] + cast[1]) / math.sqrt(2)
    t_excess = min(t - _WB_TEMP_RANGE[0], 0.0) + max(t - _WB_TEMP_RANGE[1], 0.0)
    g_excess = (min(g - _WB_TINT_RANGE[0], 0.0) + max(g - _WB_TINT_RANGE[1], 0.0)) * _WB_TINT_WEIGHT
    return np.array([t_excess, g_excess])


def _capped(cast: np.ndarray) -> np.ndarray:
    """A log-chroma correction shortened to at most :data:`_WB_CAP`."""
    size = float(np.linalg.norm(cast))
    return cast if size <= _WB_CAP else cast * (_WB_CAP / size)


def _white_patch(lin: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean colour of the brightest unclipped near-neutral pixels (log-chroma).

    Strongly coloured lights and surfaces (a sodium lamp, a red saucer) are no white
    reference: pixels whose encoded saturation exceeds :data:`_WHITE_SATURATION` (more than
    any plausible cast gives a white) are left out, unless too few remain.
    """
    luma = lin @ LUMA.astype(np.float32)
    # encoded saturation 1 - min/max of lin ** (1 / 2.2); the power is monotone, so take it last
    sat = 1 - _channel_min(lin) ** (1 / 2.2) / np.maximum(_channel_max(lin) ** (1 / 2.2), 1e-6)
    neutral = valid & (sat < _WHITE_SATURATION)
    if np.count_nonzero(neutral) < 100:
        neutral = valid
    top = neutral & (luma >= np.quantile(luma[neutral], _WHITE_QUANTILE))
    return _log_chroma(lin[top].mean(axis=0))


def _grey_edges(small: np.ndarray, lin: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order grey-edge estimates, Minkowski p = 6 (log-chroma): all edges, neutral edges.

    The gradient magnitude of each linear channel (Gaussian sigma 1, Sobel) is pooled with
    the Minkowski p = 6 norm (van de Weijer, Gevers & Gijsenij, IEEE TIP 2007) once over every
    valid pixel and once over the :data:`_NEUTRAL_EDGE_SHARE` least saturated of them
    (saturation ``1 - min/max`` of the encoded pixel), where edges lie between near-neutral
    surfaces or are shading and specular edges, whose colour is the illuminant's.

    Args:
        small: ``(h, w, 3)`` uint8 encoded image.
        lin: ``(h, w, 3)`` float32 linear image of the same pixels.
        valid: ``(h, w)`` bool, neither clipped nor near black.

    Returns:
        ``(all edges (2,), neutral edges (2,))`` log-chroma estimates.
    """
    blurred = cv2.GaussianBlur(lin, (0, 0), 1.0)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
    inside = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    power = (gx * gx + gy * gy).astype(np.float64) ** 3  # |grad| ** 6
    high = _channel_max(small)[inside].astype(np.float32)
    sat = 1 - _channel_min(small)[inside] / np.maximum(high, 1)
    neutral = sat <= np.quantile(sat, _NEUTRAL_EDGE_SHARE)
    power = power[inside]
    return _log_chroma(power.mean(axis=0) ** (1 / 6)), _log_chroma(power[neutral].mean(axis=0) ** (1 / 6))


def _log_chroma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = np.maximum(np.asarray(rgb, dtype=np.float64), 1e-6)
    return np.array([math.log(r / g), math.log(b / g)])


# --- tone helpers ----------------------------------------------------------------------------


def _shoulder(x: np.ndarray, top: float) -> np.ndarray:
    """Roll values in ``[0, top]`` into ``[0, 1]``: identity below a knee, a C1 shoulder above.

    ``top`` is the largest input value (what code 255 becomes); ``top <= 1`` only clips at 1.
    Above the knee ``k`` the output is ``k + (1 - k) (1 - (1 - t)^a)``, ``t = (x - k) / (top - k)``,
    with ``a = (top - k) / (1 - k)`` so the slope is 1 at the knee and 0 at ``top``; the knee is
    ``2 - top`` (``a = 2``, a quadratic) while ``top < 2``, else 0.
    """
    if top <= 1.0:
        return np.minimum(x, 1.0)
    knee = max(2.0 - top, 0.0) * _SHOULDER_KNEE_SCALE
    power = (top - knee) / (1 - knee)
    t = np.clip((x - knee) / (top - knee), 0, 1)
    return np.where(x > knee, knee + (1 - knee) * (1 - (1 - t) ** power), x)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding: encoded 0..1 -> linear 0..1 (same shape)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding: linear -> encoded 0..1 (input clipped to 0..1, same shape)."""
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


_DECODE = srgb_to_linear(_CODES).astype(np.float32)
_DECODE.flags.writeable = False


def decode_lut() -> np.ndarray:
    """``(256,)`` float32 table: uint8 sRGB code -> linear light (read-only)."""
    return _DECODE


def to_u8(x: np.ndarray) -> np.ndarray:
    """Float 0..1 -> uint8 with rounding and clipping (same shape)."""
    return np.clip(np.asarray(x) * 255 + 0.5, 0, 255).astype(np.uint8)


def _channel_min(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel minimum over the 3 channels (faster than ``min(axis=2)``)."""
    return np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def _channel_max(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the 3 channels (faster than ``max(axis=2)``)."""
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def _small(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = STATS_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
