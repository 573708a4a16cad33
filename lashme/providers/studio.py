"""The local "studio" provider: four deterministic enhancement pipelines.

Plain Python (numpy + OpenCV), no Reflex import, no network.  Each preset is a
module function taking and returning an RGB ``PIL.Image.Image`` of the same
size (see :data:`PIPELINES`); internally they work on ``(H, W, 3)`` ``uint8``
arrays with OpenCV, and fold per-pixel tone changes into 256-entry lookup
tables.  Expensive low-frequency work (bloom, edge-aware smoothing) runs at
1/4-1/8 resolution and is upsampled; parameters are tuned for a 2048 px long
side and spatial radii scale with the image size.  For the same input every
pipeline returns identical pixels.

Versioned presets: a job runs the studio preset versions pinned on it
(``lashme.images.presets``); a version's ``strength`` and ``params`` shape the
result (:class:`StudioSettings`).  Strength 1.0 with no parameters (version
1, seeded by migration ``0007``) is exactly the pipeline's output.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from lashme.images import imaging
from lashme.images.presets import PresetMissing
from lashme.images.previews import fit_size, resize_array
from lashme.providers.base import STUDIO_PRESETS, GeneratedVariant, JobContext, ProviderError

__all__ = [
    "PARAM_SPECS",
    "PIPELINES",
    "StudioProvider",
    "StudioSettings",
    "crisp_detail",
    "natural",
    "soft_focus",
    "warm_glow",
]

_REF_SIDE = 2048  # long side the parameters below are tuned for
_LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 / sRGB luminance weights
_CODES = np.arange(256) / 255.0  # LUT inputs, 0..1

# natural
_AWB_WHITE_QUANTILE = 0.98  # the brightest 2 % of unclipped pixels are the white reference
_AWB_STRENGTH = 0.8  # fraction of the estimated cast removed, in log-gain
_AWB_GAIN_LIMITS = (0.75, 1.33)
_WHITE_TARGET = 0.8  # linear luminance the 99th percentile is brought up to (~0.91 encoded)
_MAX_EXPOSURE_GAIN = 2.5  # at most +1.3 EV; exposure only ever brightens
_MID_TARGET = 0.46  # target median luma, sRGB-encoded 0..1
_EXPOSURE_STRENGTH = 0.5  # fraction of the mid-tone correction applied, in log-gamma
_GAMMA_LIMITS = (0.75, 1.1)  # mid-tone gamma: brighten up to 0.75, darken gently
_BLACK_POINT_MAX = 0.04  # black point: 0.5th luma percentile, at most this
_NATURAL_CLAHE_CLIP, _NATURAL_CLAHE_BLEND = 1.3, 0.4
# warm_glow
_BLOOM_SIDE = 256  # long side of the bloom layer for a 2048 px image
_BLOOM_STRENGTH = 0.4
_BLOOM_TINT = (1.0, 0.84, 0.64)  # RGB gains of the glow: warm gold
# crisp_detail
_CRISP_CLAHE_CLIP, _CRISP_CLAHE_BLEND = 1.6, 0.6
_USM_SIGMA, _USM_AMOUNT, _USM_THRESHOLD = 1.2, 0.8, 3  # px at 2048, gain, L levels
# soft_focus
_SOFT_SIDE = 512  # guided-filter working resolution for a 2048 px image
_SOFT_RADIUS = 4  # box radius at working resolution (~16 px at 2048)
_SOFT_EPS = 0.01  # guided-filter regulariser, (0-1 intensity)^2: edges above ~25 grey levels survive
_SOFT_STRENGTH = 0.7  # blend towards the smoothed image; the rest keeps texture
_VIGNETTE_DEPTH = 0.15  # corner darkening


def natural(img: Image.Image) -> Image.Image:
    """Neutral, well-exposed "as shot in a studio" look.

    1. Auto white balance, white-patch percentile method: the mean colour of
       the brightest 2 % unclipped pixels, in linear light, is taken as the
       illuminant; gains clamped to [0.75, 1.33], 80 % strength (in log-gain),
       normalised to keep luminance.
    2. Exposure: a linear gain bringing the 99th luminance percentile up to
       0.8 (brightens only, at most +1.3 EV); black point at the 0.5th luma
       percentile (at most 4 %).
    3. Mid-tones: a gamma moving the median luma toward 0.46 (50 % strength
       in log-gamma, gamma clamped to [0.75, 1.1]).  Steps 1-3 are a single
       per-channel LUT built from statistics of a ~160 px grid sample.
    4. Gentle local contrast: CLAHE (Zuiderveld, 1994; clip 1.3, 8x8 tiles) on
       luma, blended 40 %.

    Args:
        img: RGB image, typically long side <= 2048 px.

    Returns:
        A new RGB image of the same size.
    """
    return Image.fromarray(_natural(_rgb(img)))


def warm_glow(img: Image.Image) -> Image.Image:
    """Warm, glowing "golden hour" grade.

    A per-channel curve LUT warms the mid-tones (R up, B down), split-tones
    golden highlights and rosy shadows and lifts the blacks slightly; then a
    bloom layer (highlights above ~55 % luma, warm-tinted, Gaussian-blurred at
    1/8 resolution, ~50 px radius at 2048) is screen-blended on top.

    Args:
        img: RGB image.

    Returns:
        A new RGB image of the same size.
    """
    return Image.fromarray(_warm_glow(_rgb(img)))


def crisp_detail(img: Image.Image) -> Image.Image:
    """Crisp lashes, nail edges and brow hairs.

    CLAHE (clip 1.6, 8x8 tiles, 60 % blend) on CIE L* (OpenCV 8-bit Lab), then
    an unsharp mask on L* (sigma 1.2 px at 2048 px, amount 0.8, threshold 3 L
    levels so flat skin and noise are left alone).  Chroma is untouched, so
    sharpening adds no colour fringes.

    Args:
        img: RGB image.

    Returns:
        A new RGB image of the same size.
    """
    return Image.fromarray(_crisp_detail(_rgb(img)))


def soft_focus(img: Image.Image) -> Image.Image:
    """Soft, retouched skin with a subtle vignette.

    Edge-preserving smoothing by the fast guided filter (He, Sun & Tang 2013;
    He & Sun 2015): the self-guided filter's coefficients ``a, b`` (radius
    ~16 px at 2048, eps 0.01) are computed at 1/4 resolution and upsampled, so strong
    edges (lashes, nail outlines) keep full-resolution sharpness while flat
    skin is smoothed.  The result is blended 70 % with the original to keep
    texture, and corners are darkened by up to 15 % (smoothstep vignette).

    Args:
        img: RGB image.

    Returns:
        A new RGB image of the same size.
    """
    return Image.fromarray(_soft_focus(_rgb(img)))


PIPELINES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "natural": natural,
    "warm_glow": warm_glow,
    "crisp_detail": crisp_detail,
    "soft_focus": soft_focus,
}
assert tuple(PIPELINES) == STUDIO_PRESETS


#: Parameters a studio preset version may set in ``params``: name -> (type, min, max, default, meaning).
PARAM_SPECS: dict[str, tuple[type, float, float, float, str]] = {
    "saturation": (float, 0.0, 2.0, 1.0, "colour saturation of the enhanced result; 1 = unchanged, 0 = grey"),
}


@dataclass(frozen=True)
class StudioSettings:
    """How one preset version shapes its pipeline's result.

    Attributes:
        strength: blend of original and enhanced result, 0..1: ``original x (1 - strength)
            + enhanced x strength``; 1.0 is the pipeline's output exactly, 0.0 the original.
        saturation: colour saturation of the enhanced result before the blend (see
            :data:`PARAM_SPECS`); 1.0 leaves it unchanged.
    """

    strength: float = 1.0
    saturation: float = 1.0

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
        saturation = params.get("saturation", 1.0)
        lo, hi = PARAM_SPECS["saturation"][1:3]
        return cls(
            strength=min(max(float(strength), 0.0), 1.0),
            saturation=min(max(float(saturation), lo), hi),
        )


DEFAULT_SETTINGS = StudioSettings()


class StudioProvider:
    """Local, deterministic provider running one pipeline of :data:`PIPELINES` per preset.

    Args:
        max_side: long side the original is downscaled to before processing.
    """

    name: str = "studio"

    def __init__(self, *, max_side: int = imaging.PROCESSING_MAX_SIDE) -> None:
        self.max_side = max_side

    def generate(
        self, original: bytes, presets: Sequence[str], *, settings: Sequence[StudioSettings] | None = None
    ) -> list[GeneratedVariant]:
        """Decode ``original`` once and run each preset's pipeline on it.

        Args:
            original: stored original bytes (normally a JPEG).
            presets: names from :data:`PIPELINES`, e.g. ``STUDIO_PRESETS``.
            settings: one :class:`StudioSettings` per preset (default: strength 1.0, no
                parameters, i.e. the pipelines' own output).

        Returns:
            One variant per preset, ``index`` = position in ``presets``, each an
            RGB image with long side ``<= max_side``; none is filtered.

        Raises:
            ProviderError: non-transient, ``generation.failed``, for an unknown
                preset, settings that do not match the presets, or an original
                that cannot be decoded.
        """
        unknown = [preset for preset in presets if preset not in _ARRAY_PIPELINES]
        if unknown:
            raise ProviderError(f"unknown presets: {unknown}", transient=False)
        if settings is None:
            settings = [DEFAULT_SETTINGS] * len(presets)
        if len(settings) != len(presets):
            raise ProviderError(f"{len(settings)} settings for {len(presets)} presets", transient=False)
        try:
            arr = np.asarray(imaging.load_for_processing(original, max_side=self.max_side))
        except Exception as exc:  # undecodable original: retrying will not help
            raise ProviderError(f"cannot decode the original: {exc!r}", transient=False) from exc
        return [
            GeneratedVariant(index, preset, Image.fromarray(_run(arr, preset, settings[index])))
            for index, preset in enumerate(presets)
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


def _run(rgb: np.ndarray, preset: str, settings: StudioSettings) -> np.ndarray:
    """One preset's pipeline on ``rgb``, then its version's saturation and strength."""
    out = _ARRAY_PIPELINES[preset](rgb)
    if settings.saturation != 1.0:
        out = _saturate(out, settings.saturation)
    if settings.strength < 1.0:
        out = cv2.addWeighted(rgb, 1.0 - settings.strength, out, settings.strength, 0)
    return out


def _saturate(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Scale chroma around each pixel's luma by ``factor`` (1 = unchanged, 0 = grey)."""
    gray = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(rgb, factor, gray, 1.0 - factor, 0)


# --- pipelines on (H, W, 3) uint8 RGB arrays ---------------------------------------------


def _natural(rgb: np.ndarray) -> np.ndarray:
    sample = _sample(rgb)
    lin = _srgb_to_linear(sample)
    gains = _awb_gains(sample, lin)
    bright = float(np.percentile((lin * gains) @ _LUMA, 99))
    gains = gains * min(max(_WHITE_TARGET / max(bright, 1e-6), 1.0), _MAX_EXPOSURE_GAIN)
    luma = _linear_to_srgb(lin * gains) @ _LUMA
    black = min(float(np.percentile(luma, 0.5)), _BLACK_POINT_MAX)
    median = float(np.median(np.clip((luma - black) / (1 - black), 1e-3, 1 - 1e-3)))
    gamma = (math.log(_MID_TARGET) / math.log(median)) ** _EXPOSURE_STRENGTH
    gamma = min(max(gamma, _GAMMA_LIMITS[0]), _GAMMA_LIMITS[1])
    curves = _linear_to_srgb(_srgb_to_linear(_CODES)[:, None] * gains)
    curves = np.clip((curves - black) / (1 - black), 0, 1) ** gamma
    return _clahe_luma(cv2.LUT(rgb, _lut(curves)), _NATURAL_CLAHE_CLIP, _NATURAL_CLAHE_BLEND)


def _awb_gains(encoded: np.ndarray, lin: np.ndarray) -> np.ndarray:
    """White-patch white-balance gains ``(3,)`` from ``(N, 3)`` pixels (sRGB-encoded and linear).

    The mean linear colour of the brightest 2 % of unclipped pixels (whites,
    speculars, light backgrounds) estimates the illuminant.  A mean over a
    percentile instead of the maximum makes it robust to single hot pixels;
    skin, wood or nail polish rarely reach the top 2 %, so their intended
    warmth does not vote.
    """
    unclipped = encoded.max(axis=1) < 0.97
    if np.count_nonzero(unclipped) < 64:
        return np.ones(3)
    luma = lin @ _LUMA
    white = unclipped & (luma >= np.quantile(luma[unclipped], _AWB_WHITE_QUANTILE))
    illuminant = lin[white].mean(axis=0)
    gains = np.clip(illuminant.mean() / np.maximum(illuminant, 1e-6), *_AWB_GAIN_LIMITS) ** _AWB_STRENGTH
    return gains / (gains @ _LUMA)


def _warm_glow(rgb: np.ndarray) -> np.ndarray:
    graded = cv2.LUT(rgb, _WARM_LUT)
    height, width = graded.shape[:2]
    side = max(16, round(max(height, width) * _BLOOM_SIDE / _REF_SIDE))
    small = resize_array(graded, fit_size((width, height), side))
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    mask = cv2.LUT(cv2.merge((gray, gray, gray)), _BLOOM_MASK_LUT)
    glow = cv2.GaussianBlur(cv2.multiply(small, mask, scale=1 / 255), (0, 0), max(small.shape[:2]) / 40)
    glow = cv2.resize(glow, (width, height), interpolation=cv2.INTER_LINEAR)
    # screen blend: 1 - (1 - a)(1 - b), never darker than either layer
    return cv2.bitwise_not(cv2.multiply(cv2.bitwise_not(graded), cv2.bitwise_not(glow), scale=1 / 255))


def _crisp_detail(rgb: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lightness = _clahe(cv2.extractChannel(lab, 0), _CRISP_CLAHE_CLIP, _CRISP_CLAHE_BLEND)
    sigma = max(0.5, _USM_SIGMA * max(rgb.shape[:2]) / _REF_SIDE)
    blurred = cv2.GaussianBlur(lightness, (0, 0), sigma)
    sharpened = cv2.addWeighted(lightness, 1 + _USM_AMOUNT, blurred, -_USM_AMOUNT, 0)
    edges = cv2.compare(cv2.absdiff(lightness, blurred), _USM_THRESHOLD, cv2.CMP_GT)
    lightness = cv2.copyTo(sharpened, edges, lightness)
    return cv2.cvtColor(cv2.insertChannel(lightness, lab, 0), cv2.COLOR_Lab2RGB)


def _soft_focus(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = max(32, round(max(height, width) * _SOFT_SIDE / _REF_SIDE))
    small = resize_array(rgb, fit_size((width, height), side)).astype(np.float32) * (1 / 255)
    box = (2 * _SOFT_RADIUS + 1, 2 * _SOFT_RADIUS + 1)
    mean = cv2.boxFilter(small, -1, box)
    var = np.maximum(cv2.boxFilter(small * small, -1, box) - mean * mean, 0)
    a = var / (var + _SOFT_EPS)
    b = mean - a * mean
    vignette = _vignette(small.shape[:2])[..., None]
    gain = (1 - _SOFT_STRENGTH + _SOFT_STRENGTH * cv2.boxFilter(a, -1, box)) * vignette
    offset = _SOFT_STRENGTH * cv2.boxFilter(b, -1, box) * vignette
    gain8 = cv2.resize(_to_u8(gain), (width, height), interpolation=cv2.INTER_LINEAR)
    offset8 = cv2.resize(_to_u8(offset), (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.multiply(rgb, gain8, scale=1 / 255), offset8)  # out = A * I + B


_ARRAY_PIPELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "natural": _natural,
    "warm_glow": _warm_glow,
    "crisp_detail": _crisp_detail,
    "soft_focus": _soft_focus,
}


# --- helpers --------------------------------------------------------------------------------


def _clahe_luma(rgb: np.ndarray, clip: float, blend: float) -> np.ndarray:
    """CLAHE on the luma of YCrCb (chroma untouched), blended with the input luma."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    luma = _clahe(cv2.extractChannel(ycc, 0), clip, blend)
    return cv2.cvtColor(cv2.insertChannel(luma, ycc, 0), cv2.COLOR_YCrCb2RGB)


def _clahe(channel: np.ndarray, clip: float, blend: float) -> np.ndarray:
    equalized = cv2.createCLAHE(clipLimit=clip, tileGridSize=(8, 8)).apply(channel)
    return cv2.addWeighted(channel, 1 - blend, equalized, blend, 0) if blend < 1 else equalized


def _sample(rgb: np.ndarray, side: int = 160) -> np.ndarray:
    """``(N, 3)`` float pixels in 0..1 from a regular grid of about ``side`` x ``side``."""
    step = max(1, max(rgb.shape[:2]) // side)
    return rgb[::step, ::step].reshape(-1, 3) / 255.0


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding (input clipped to 0..1)."""
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _lut(curves: np.ndarray) -> np.ndarray:
    """``(256, 3)`` curves in 0..1 -> OpenCV per-channel LUT ``(1, 256, 3)`` uint8."""
    return _to_u8(np.broadcast_to(curves, (256, 3))).reshape(1, 256, 3)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x) * 255 + 0.5, 0, 255).astype(np.uint8)


def _warm_curves() -> np.ndarray:
    x = _CODES
    mids = 4 * x * (1 - x)
    highs = np.sin(np.pi * np.clip(2 * x - 1, 0, 1))  # bump peaking at 0.75
    shadows = np.sin(np.pi * np.clip(2 * x, 0, 1))  # bump peaking at 0.25
    red = x + 0.045 * mids + 0.025 * highs + 0.015 * shadows
    green = x + 0.012 * mids + 0.008 * highs
    blue = x - 0.045 * mids - 0.03 * highs + 0.02 * shadows
    return 0.025 + 0.975 * np.stack((red, green, blue), axis=1)  # slight matte lift


def _bloom_mask_curves() -> np.ndarray:
    t = np.clip((_CODES - 0.55) / 0.4, 0, 1)
    return (t * t * (3 - 2 * t) * _BLOOM_STRENGTH)[:, None] * np.array(_BLOOM_TINT)


_WARM_LUT = _lut(_warm_curves())
_BLOOM_MASK_LUT = _lut(_bloom_mask_curves())


@functools.lru_cache(maxsize=8)
def _vignette(shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` float32 gain: 1 near the centre, smoothstep down to ``1 - depth`` at the corners.

    The ramp starts at 45 % of the half-diagonal (elliptical, following the aspect ratio).
    """
    height, width = shape
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    t = np.clip((np.sqrt((x * x + y * y) / 2) - 0.45) / 0.55, 0, 1)
    gain = 1 - _VIGNETTE_DEPTH * t * t * (3 - 2 * t)
    gain.flags.writeable = False
    return gain


def _rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
