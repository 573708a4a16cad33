"""Subject-aware retouching that never reshapes the work: skin smoothing, detail, clarity, glow.

Plain numpy + OpenCV on ``(H, W, 3)`` uint8 RGB arrays, no Reflex import.  Every operation is
local tone only -- a pixel may get lighter, darker or smoother, but no pixel moves -- so
lashes, brows and nails keep their exact shape:

- :func:`smooth_skin`: the fast guided filter (He, Sun & Tang, IEEE TPAMI 2013; He & Sun,
  arXiv 1505.00996, 2015), self-guided, coefficients at low resolution and upsampled, blended
  in only where a skin mask says so.  Edges whose local variance exceeds ``eps`` (lash lines,
  nail outlines) keep their full-resolution sharpness.
- :func:`sharpen_dark_detail`: an unsharp mask on luma (one detail layer per photo,
  :func:`detail_layer`) with *coring*, so the low-amplitude texture of skin is left alone and
  only fine, contrasty detail (lashes, brow hairs, nail edges) is strengthened, and with a dark
  bias (dark lines deepen; light halos are damped), the way retouchers sharpen lashes.
- :func:`clarity`: mid-frequency local contrast (a large-radius unsharp mask computed at low
  resolution), weighted away from skin.
- :func:`glow`: a screen-blended, blurred highlight layer (soft light around bright areas).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "clarity",
    "detail_layer",
    "glow",
    "low_res",
    "protect_detail",
    "sharpen_dark_detail",
    "smooth_skin",
    "upsample",
]

_REF_SIDE = 2048  # spatial parameters below are for this long side and scale with the image
_DETAIL_SIGMA = 1.4  # px at 2048: lash-scale detail
_CORE = (5, 14)  # |detail| (8-bit luma levels): below the first untouched, full from the second


def low_res(rgb: np.ndarray, side: int) -> np.ndarray:
    """Area-downscaled copy whose long side is at most ``side`` px (the input when smaller).

    Args:
        rgb: ``(H, W, C)`` or ``(H, W)`` array.
        side: target long side in px.
    """
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def upsample(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bilinear resize of a low-resolution map to ``shape[:2]`` (``(H, W)``)."""
    return cv2.resize(arr, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def smooth_skin(
    rgb: np.ndarray,
    skin_small: np.ndarray,
    strength: float,
    *,
    small: np.ndarray | None = None,
    eps: float = 0.02,
    radius: int = 4,
) -> np.ndarray:
    """Edge-preserving smoothing of skin only.

    ``out = (1 - w) I + w (A I + B)`` with ``A, B`` the box-averaged coefficients of the
    self-guided filter on a copy the size of ``skin_small`` and ``w = strength x skin``; the
    gain ``1 - w (1 - A)`` and offset ``w B`` are upsampled and applied to the full image.

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        skin_small: ``(h, w)`` float32 skin membership 0..1 at the working resolution
            (:func:`lashme.images.skin.skin_mask`); its size sets the filter's resolution.
        strength: 0..1, share of the smoothed image on full skin.
        small: optional ``rgb`` already downscaled to the size of ``skin_small`` (saves a resize).
        eps: regulariser, (0..1 intensity)^2: local variance above it counts as an edge.
        radius: box radius in working-resolution px.

    Returns:
        A new ``(H, W, 3)`` uint8 image (``rgb`` itself when ``strength`` is 0).
    """
    if strength <= 0:
        return rgb
    if small is None or small.shape[:2] != skin_small.shape:
        small = cv2.resize(rgb, (skin_small.shape[1], skin_small.shape[0]), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32) * (1 / 255)
    box = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.boxFilter(small, -1, box)
    var = np.maximum(cv2.boxFilter(small * small, -1, box) - mean * mean, 0)
    a = var / (var + eps)
    b = mean - a * mean
    w = (strength * skin_small)[..., None]
    gain = 1 - w * (1 - cv2.boxFilter(a, -1, box))
    offset = w * cv2.boxFilter(b, -1, box)
    gain8 = upsample(_u8(gain), rgb.shape)
    offset8 = upsample(_u8(offset), rgb.shape)
    return cv2.add(cv2.multiply(rgb, gain8, scale=1 / 255), offset8)


def detail_layer(rgb: np.ndarray) -> np.ndarray:
    """Lash-scale luma detail ``Y - Gaussian(Y)`` of a photo.

    Args:
        rgb: ``(H, W, 3)`` uint8 image (the corrected base).

    Returns:
        ``(H, W)`` uint8: ``128 + d`` in 8-bit luma levels, ``d`` clamped to -128..127
        (below 128: darker than the surroundings).
    """
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    sigma = max(0.6, _DETAIL_SIGMA * max(rgb.shape[:2]) / _REF_SIDE)
    return cv2.addWeighted(luma, 1.0, cv2.GaussianBlur(luma, (0, 0), sigma), -1.0, 128.0)


def sharpen_dark_detail(
    rgb: np.ndarray, detail: np.ndarray, amount: float, *, light: float = 0.35
) -> np.ndarray:
    """Add cored, dark-biased detail to every channel (an unsharp mask that spares skin).

    ``delta = amount x core(|d|) x d`` for ``d < 0`` and ``light x`` that for ``d > 0``, where
    ``core`` ramps from 0 at 5 to 1 at 14 luma levels: skin texture and noise (small ``|d|``)
    get nothing, lash lines and nail edges get the full amount, light halos are damped.  No
    new clipped pixel is made: results stop at 1 and 254 unless the pixel was already there.

    Args:
        rgb: ``(H, W, 3)`` uint8 image (may be a styled version of the base).
        detail: ``(H, W)`` uint8 from :func:`detail_layer` of the base.
        amount: unsharp gain on dark detail (0 = none; 1 doubles it).
        light: fraction of ``amount`` applied to light detail.

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if amount <= 0:
        return rgb
    d = np.arange(256, dtype=np.float64) - 128
    core = np.clip((np.abs(d) - _CORE[0]) / (_CORE[1] - _CORE[0]), 0, 1)
    darken = _u8(np.maximum(-amount * core * d, 0) / 255)
    lighten = _u8(np.maximum(light * amount * core * d, 0) / 255)
    return _add_signed(rgb, cv2.LUT(detail, lighten), cv2.LUT(detail, darken))


def protect_detail(smoothed: np.ndarray, sharp: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """Put fine, contrasty detail back into a smoothed image: ``sharp`` where ``|d|`` is large.

    The weight of ``sharp`` is the same coring ramp as :func:`sharpen_dark_detail` (0 at 5,
    1 at 14 luma levels), so skin texture stays smoothed while lash lines and brow hairs that
    the low-resolution filter touched come back at full resolution.

    Args:
        smoothed: ``(H, W, 3)`` uint8, e.g. from :func:`smooth_skin`.
        sharp: ``(H, W, 3)`` uint8, the same image before smoothing.
        detail: ``(H, W)`` uint8 from :func:`detail_layer`.

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    d = np.arange(256, dtype=np.float32) - 128
    core = np.clip((np.abs(d) - _CORE[0]) / (_CORE[1] - _CORE[0]), 0, 1).astype(np.float32)
    weight = core[detail]
    return cv2.blendLinear(sharp, smoothed, weight, 1 - weight)


def _add_signed(rgb: np.ndarray, up: np.ndarray, down: np.ndarray) -> np.ndarray:
    """``rgb + up - down`` (``(H, W)`` uint8 maps, same for every channel), no new clipping."""
    out = cv2.subtract(cv2.add(rgb, cv2.merge((up, up, up))), cv2.merge((down, down, down)))
    return cv2.max(cv2.min(out, cv2.max(rgb, 254)), cv2.min(rgb, 1))


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x) * 255 + 0.5, 0, 255).astype(np.uint8)


def clarity(
    rgb: np.ndarray, amount: float, spare: np.ndarray | None = None, *, side: int = 256
) -> np.ndarray:
    """Mid-frequency local contrast: ``Y + amount x (Y - blur(Y))``, the blur at low resolution.

    Like every step here it makes no new clipped pixel (see :func:`sharpen_dark_detail`).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        amount: gain of the local contrast (0 = none).
        spare: optional ``(h, w)`` float32 0..1 map (e.g. skin) where clarity is reduced to 0.
        side: long side of the low-resolution blur (the radius is ~1/40 of the photo).

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if amount <= 0:
        return rgb
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = low_res(luma, side)
    blurred = upsample(cv2.GaussianBlur(small, (0, 0), max(small.shape) / 40), rgb.shape)
    local = cv2.addWeighted(luma, 1.0, blurred, -1.0, 128.0)  # 128 + Y - blur(Y)
    d = np.arange(256, dtype=np.float64) - 128
    up = cv2.LUT(local, _u8(np.maximum(amount * d, 0) / 255))
    down = cv2.LUT(local, _u8(np.maximum(-amount * d, 0) / 255))
    if spare is not None:
        keep = upsample(_u8(1 - spare), rgb.shape)
        up, down = cv2.multiply(up, keep, scale=1 / 255), cv2.multiply(down, keep, scale=1 / 255)
    return _add_signed(rgb, up, down)


def glow(
    rgb: np.ndarray, strength: float, tint: tuple[float, float, float], *, threshold: float = 0.6
) -> np.ndarray:
    """Screen-blend a blurred, tinted copy of the highlights (never darkens).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        strength: opacity of the glow layer at full highlight (0..1).
        tint: RGB gains of the glow (1, 1, 1 = neutral).
        threshold: luma (0..1) where highlights start to glow (smoothstep to +0.35).

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if strength <= 0:
        return rgb
    small = low_res(rgb, 192)
    codes = np.arange(256) / 255
    t = np.clip((codes - threshold) / 0.35, 0, 1)
    ramp = (t * t * (3 - 2 * t) * strength)[:, None] * np.asarray(tint)[None, :]
    lut = np.clip(ramp * codes[:, None] * 255 + 0.5, 0, 255).astype(np.uint8).reshape(1, 256, 3)
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    layer = cv2.LUT(cv2.merge((luma, luma, luma)), lut)
    layer = cv2.GaussianBlur(layer, (0, 0), max(small.shape[:2]) / 30)
    layer = upsample(layer, rgb.shape)
    return cv2.bitwise_not(cv2.multiply(cv2.bitwise_not(rgb), cv2.bitwise_not(layer), scale=1 / 255))
