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

import functools

import cv2
import numpy as np

__all__ = [
    "add_maps",
    "apply_smoothing",
    "clarity",
    "clarity_base",
    "clarity_maps",
    "dark_detail_maps",
    "detail_layer",
    "glow",
    "glow_layer",
    "keep_clipping",
    "low_res",
    "protect_detail",
    "screen",
    "sharpen_dark_detail",
    "smooth_skin",
    "smoothing_maps",
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
    detail: np.ndarray | None = None,
) -> np.ndarray:
    """Edge-preserving smoothing of skin only.

    ``out = (1 - w) I + w (A I + B)`` with ``A, B`` the box-averaged coefficients of the
    self-guided filter on a copy the size of ``skin_small`` and ``w = strength x skin``; the
    loss ``w (1 - A)`` and offset ``w B`` are upsampled and applied to the full image in
    uint8, ``out = I - loss x I + offset``.  With ``detail``, both are first scaled by
    ``1 - core(|d|)`` at full resolution: exactly ``protect_detail(out, I, detail)``, in
    the same pass.

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        skin_small: ``(h, w)`` float32 skin membership 0..1 at the working resolution
            (:func:`lashme.images.skin.skin_mask`); its size sets the filter's resolution.
        strength: 0..1, share of the smoothed image on full skin.
        small: optional ``rgb`` already downscaled to the size of ``skin_small`` (saves a resize).
        eps: regulariser, (0..1 intensity)^2: local variance above it counts as an edge.
        radius: box radius in working-resolution px.
        detail: optional ``(H, W)`` uint8 from :func:`detail_layer` of ``rgb``: fine, contrasty
            detail (lash lines, brow hairs) keeps its full-resolution pixels (see
            :func:`protect_detail`).

    Returns:
        A new ``(H, W, 3)`` uint8 image (``rgb`` itself when ``strength`` is 0).
    """
    if strength <= 0:
        return rgb
    if small is None or small.shape[:2] != skin_small.shape:
        small = cv2.resize(rgb, (skin_small.shape[1], skin_small.shape[0]), interpolation=cv2.INTER_AREA)
    loss, offset = smoothing_maps(small, skin_small, strength, rgb.shape, eps=eps, radius=radius)
    return apply_smoothing(rgb, loss, offset, detail)


def smoothing_maps(
    small: np.ndarray,
    skin_small: np.ndarray,
    strength: float,
    shape: tuple[int, ...],
    *,
    eps: float = 0.02,
    radius: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """The full-size loss and offset maps of :func:`smooth_skin` (for :func:`apply_smoothing`).

    Args:
        small: ``(h, w, 3)`` uint8 working-resolution copy of the image.
        skin_small: ``(h, w)`` float32 skin membership of ``small``.
        strength: 0..1, share of the smoothed image on full skin.
        shape: ``(H, W, ...)`` of the full image.
        eps: regulariser, (0..1 intensity)^2.
        radius: box radius in working-resolution px.

    Returns:
        ``(loss, offset)``, each ``(H, W, 3)`` uint8 (255 = 1).
    """
    small = small.astype(np.float32) * (1 / 255)
    box = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.boxFilter(small, -1, box)
    var = np.maximum(cv2.boxFilter(small * small, -1, box) - mean * mean, 0)
    a = var / (var + eps)
    b = mean - a * mean
    w = (strength * skin_small)[..., None]
    loss = upsample(_u8(w * (1 - cv2.boxFilter(a, -1, box))), shape)
    return loss, upsample(_u8(w * cv2.boxFilter(b, -1, box)), shape)


def apply_smoothing(
    rgb: np.ndarray, loss: np.ndarray, offset: np.ndarray, detail: np.ndarray | None = None
) -> np.ndarray:
    """``rgb - loss x rgb + offset``, with fine detail kept when ``detail`` is given; per pixel.

    Args:
        rgb: ``(H, W, 3)`` uint8 image (or rows of it).
        loss: ``(H, W, 3)`` uint8 from :func:`smoothing_maps` (the same rows).
        offset: ``(H, W, 3)`` uint8 from :func:`smoothing_maps`.
        detail: optional ``(H, W)`` uint8 from :func:`detail_layer` (see :func:`smooth_skin`).

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if detail is not None:
        keep = cv2.LUT(detail, _KEEP)
        keep = cv2.merge((keep, keep, keep))
        loss = cv2.multiply(loss, keep, scale=1 / 255)
        offset = cv2.multiply(offset, keep, scale=1 / 255)
    return cv2.add(cv2.subtract(rgb, cv2.multiply(rgb, loss, scale=1 / 255)), offset)


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
    return add_maps(rgb, dark_detail_maps(detail, amount, light=light))


def dark_detail_maps(
    detail: np.ndarray, amount: float, *, light: float = 0.35
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(up, down)`` luma maps :func:`sharpen_dark_detail` adds (for :func:`add_maps`); per pixel.

    Args:
        detail: ``(H, W)`` uint8 from :func:`detail_layer`.
        amount: unsharp gain on dark detail.
        light: fraction of ``amount`` applied to light detail.

    Returns:
        Two ``(H, W)`` uint8 maps, 8-bit levels to add and to subtract.
    """
    lighten, darken = _detail_luts(float(amount), float(light))
    return cv2.LUT(detail, lighten), cv2.LUT(detail, darken)


@functools.lru_cache(maxsize=64)
def _detail_luts(amount: float, light: float) -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(256, dtype=np.float64) - 128
    core = np.clip((np.abs(d) - _CORE[0]) / (_CORE[1] - _CORE[0]), 0, 1)
    return _frozen(_u8(np.maximum(light * amount * core * d, 0) / 255)), _frozen(
        _u8(np.maximum(-amount * core * d, 0) / 255)
    )


def _frozen(table: np.ndarray) -> np.ndarray:
    """``table`` made read-only (cached tables are shared)."""
    table.flags.writeable = False
    return table


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
    weight = _core()[detail]
    return cv2.blendLinear(sharp, smoothed, weight, 1 - weight)


def add_maps(
    rgb: np.ndarray, *maps: tuple[np.ndarray, np.ndarray], reference: np.ndarray | None = None
) -> np.ndarray:
    """``rgb + sum(up) - sum(down)`` on every channel in one pass, making no new clipped pixel.

    Several luma changes (e.g. :func:`clarity_maps` and :func:`dark_detail_maps`) are netted on
    one channel first, so the full-size colour image is touched once.  Results stop at 1 and
    254 unless the pixel was already there (see :func:`keep_clipping`).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        *maps: ``(up, down)`` pairs of ``(H, W)`` uint8 maps (8-bit levels).
        reference: the image whose clipped pixels count as "already there" (default ``rgb``;
            pass an earlier stage when the steps since it did not clamp themselves).

    Returns:
        A new ``(H, W, 3)`` uint8 image (``rgb`` itself when there is nothing to do).
    """
    if not maps:
        return rgb if reference is None or reference is rgb else keep_clipping(rgb, reference)
    up, down = maps[0]
    for more_up, more_down in maps[1:]:
        up, down = cv2.add(up, more_up), cv2.add(down, more_down)
    if len(maps) > 1:  # net them: at each pixel only one of the two is non-zero
        up, down = cv2.subtract(up, down), cv2.subtract(down, up)
    out = cv2.subtract(cv2.add(rgb, cv2.merge((up, up, up))), cv2.merge((down, down, down)))
    return keep_clipping(out, rgb if reference is None else reference)


def keep_clipping(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``out`` with no clipped channel that ``reference`` did not have: values stop at 1 and 254.

    Args:
        out: ``(H, W, 3)`` uint8 image computed from ``reference``.
        reference: ``(H, W, 3)`` uint8 image; a channel at 0 or 255 there may stay so.

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    # a bare number would be the scalar (n, 0, 0, 0) to OpenCV: spell out every channel
    return cv2.max(cv2.min(out, cv2.max(reference, _ALL_254)), cv2.min(reference, _ALL_1))


_ALL_254, _ALL_1 = (254.0,) * 4, (1.0,) * 4


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x) * 255 + 0.5, 0, 255).astype(np.uint8)


def _core() -> np.ndarray:
    """``(256,)`` float32 coring ramp of a detail code: 0 for ``|d| <= 5``, 1 from ``|d| >= 14``."""
    d = np.arange(256, dtype=np.float32) - 128
    return np.clip((np.abs(d) - _CORE[0]) / (_CORE[1] - _CORE[0]), 0, 1).astype(np.float32)


_KEEP = _u8(1 - _core())  # share of a smoothing kept at a detail code, uint8 (255 = all)


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
    keep = None if spare is None else upsample(_u8(1 - spare), rgb.shape)
    return add_maps(rgb, clarity_maps(rgb, amount, clarity_base(luma, rgb.shape, side=side), keep))


def clarity_base(luma: np.ndarray, shape: tuple[int, ...], *, side: int = 256) -> np.ndarray:
    """The blurred luma :func:`clarity` measures local contrast against.

    Args:
        luma: ``(h, w)`` uint8 luma of the image, at any resolution of the same aspect (a
            low-resolution copy gives the same result: the blur radius is ~1/40 of the photo).
        shape: ``(H, W, ...)`` of the image the result is for.
        side: long side the blur is computed at.

    Returns:
        ``(H, W)`` uint8.
    """
    small = low_res(luma, side)
    return upsample(cv2.GaussianBlur(small, (0, 0), max(small.shape) / 40), shape)


def clarity_maps(
    rgb: np.ndarray, amount: float, blurred: np.ndarray, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(up, down)`` luma maps :func:`clarity` adds (for :func:`add_maps`); per pixel.

    Args:
        rgb: ``(H, W, 3)`` uint8 image (or rows of it).
        amount: gain of the local contrast.
        blurred: ``(H, W)`` uint8 from :func:`clarity_base` (the same rows).
        keep: optional ``(H, W)`` uint8 share of clarity kept, 255 = all (e.g. off skin).

    Returns:
        Two ``(H, W)`` uint8 maps, 8-bit levels to add and to subtract.
    """
    local = cv2.addWeighted(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1.0, blurred, -1.0, 128.0)
    lighten, darken = _clarity_luts(float(amount))
    up, down = cv2.LUT(local, lighten), cv2.LUT(local, darken)
    if keep is not None:
        up, down = cv2.multiply(up, keep, scale=1 / 255), cv2.multiply(down, keep, scale=1 / 255)
    return up, down


@functools.lru_cache(maxsize=64)
def _clarity_luts(amount: float) -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(256, dtype=np.float64) - 128  # 128 + Y - blur(Y)
    return _frozen(_u8(np.maximum(amount * d, 0) / 255)), _frozen(_u8(np.maximum(-amount * d, 0) / 255))


def glow(
    rgb: np.ndarray,
    strength: float,
    tint: tuple[float, float, float],
    *,
    threshold: float = 0.6,
    source: np.ndarray | None = None,
) -> np.ndarray:
    """Screen-blend a blurred, tinted copy of the highlights (never darkens).

    ``out = rgb + (255 - rgb) x layer / 255`` (:func:`screen`), the layer built and blurred at
    ~192 px and upsampled (:func:`glow_layer`).

    Args:
        rgb: ``(H, W, 3)`` uint8 image.
        strength: opacity of the glow layer at full highlight (0..1).
        tint: RGB gains of the glow (1, 1, 1 = neutral).
        threshold: luma (0..1) where highlights start to glow (smoothstep to +0.35).
        source: optional low-resolution copy of ``rgb`` to build the layer from (see
            :func:`glow_layer`).

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if strength <= 0:
        return rgb
    layer = glow_layer(rgb if source is None else source, strength, tint, rgb.shape, threshold=threshold)
    return screen(rgb, layer)


def glow_layer(
    source: np.ndarray,
    strength: float,
    tint: tuple[float, float, float],
    shape: tuple[int, ...],
    *,
    threshold: float = 0.6,
) -> np.ndarray:
    """The tinted, blurred highlight layer of :func:`glow`.

    Args:
        source: ``(h, w, 3)`` uint8 image or a low-resolution copy of it (any size, same
            aspect): the layer is built at <= 192 px and blurred far beyond its pixels, so a
            copy made by toning a downscaled base gives the same glow and saves a full-size
            downscale.
        strength: opacity at full highlight (0..1).
        tint: RGB gains (1, 1, 1 = neutral).
        shape: ``(H, W, ...)`` of the image the layer is for.
        threshold: luma (0..1) where highlights start to glow (smoothstep to +0.35).

    Returns:
        ``(H, W, 3)`` uint8.
    """
    small = low_res(source, 192)
    codes = np.arange(256) / 255
    t = np.clip((codes - threshold) / 0.35, 0, 1)
    ramp = (t * t * (3 - 2 * t) * strength)[:, None] * np.asarray(tint)[None, :]
    lut = np.clip(ramp * codes[:, None] * 255 + 0.5, 0, 255).astype(np.uint8).reshape(1, 256, 3)
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    layer = cv2.LUT(cv2.merge((luma, luma, luma)), lut)
    layer = cv2.GaussianBlur(layer, (0, 0), max(small.shape[:2]) / 30)
    return upsample(layer, shape)


def screen(rgb: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Screen blend ``rgb + (255 - rgb) x layer / 255`` of two same-size uint8 images; per pixel."""
    return cv2.add(rgb, cv2.multiply(cv2.bitwise_not(rgb), layer, scale=1 / 255))
