"""Derived images: fast resizing, social-media crops, watermarked previews and thumbnails.

Who may see what: the files a visitor or a non-owner can be given (previews,
thumbnails) are always low-resolution *and* watermarked
(:func:`make_preview`, :func:`make_watermarked_thumbnail`).  Clean pixels at
display size (:func:`render_clean_display_files`) are stored privately and
served only to the owner who unlocked the variant; clean full-size files are
made only for an unlocked variant (:mod:`lashme.jobs.fullres`).  Crops for
posting (:data:`CROP_SIZES`) are cut by :func:`crop_aspect_array`, which never
upscales: a source smaller than the target yields the native-size crop,
flagged too small.

Plain Python (Pillow + numpy + OpenCV), no Reflex import.  Images are RGB
``PIL.Image.Image`` at the public API and ``uint8`` arrays of shape
``(height, width, 3)`` in the ``*_array`` helpers, which the hot paths use to
avoid Pillow's (slow, single-threaded) resampler.  The files of a variant are put together from
these in :mod:`lashme.images.variant_files`.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lashme.images.codec import encode_jpeg_array

INSTA_SIZE: tuple[int, int] = (1080, 1350)
#: Crops of an unlocked variant, name -> target ``(width, height)``: Instagram feed 4:5,
#: square 1:1, stories/reels 9:16 (Instagram's recommended sizes).
CROP_SIZES: dict[str, tuple[int, int]] = {"4x5": (1080, 1350), "1x1": (1080, 1080), "9x16": (1080, 1920)}
PREVIEW_MAX_SIDE = 480
THUMB_MAX_SIDE = 320

_WATERMARK_ANGLE = 30  # degrees, counter-clockwise
_WATERMARK_FILL = (255, 255, 255, 150)  # white text, ~60 % opaque
_WATERMARK_STROKE = (0, 0, 0, 110)  # dark outline so it shows on light skin too


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """Size that fits ``size`` inside a ``max_side`` square, keeping the aspect ratio.

    Never upscales: a size already within ``max_side`` is returned unchanged.

    Args:
        size: ``(width, height)`` in pixels.
        max_side: the largest allowed width or height, in pixels.

    Returns:
        ``(width, height)``, each at least 1 px.
    """
    width, height = size
    scale = max_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_array(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H, W, C)`` ``uint8`` array to ``size`` with anti-aliasing.

    Downscaling halves with OpenCV's exact 2x area filter while the image is at
    least twice the target (fast box-filter path), then finishes with a Gaussian
    pre-filter of sigma ``0.5 * sqrt(r**2 - 1)`` for the remaining ratio ``r < 2``
    (skipped when under 0.4 px, i.e. ``r < 1.28``) followed by bicubic
    interpolation.  Upscaling is bicubic.

    Args:
        arr: image array, ``uint8``, 2-D or ``(H, W, C)``.
        size: target ``(width, height)`` in pixels.

    Returns:
        A new C-contiguous array of shape ``(height, width[, C])``.
    """
    width, height = size
    while arr.shape[1] >= 2 * width and arr.shape[0] >= 2 * height:
        even_h, even_w = arr.shape[0] // 2 * 2, arr.shape[1] // 2 * 2
        arr = cv2.resize(arr[:even_h, :even_w], (even_w // 2, even_h // 2), interpolation=cv2.INTER_AREA)
    if arr.shape[1] == width and arr.shape[0] == height:
        return np.ascontiguousarray(arr)
    ratio = max(arr.shape[1] / width, arr.shape[0] / height)
    sigma = 0.5 * math.sqrt(ratio * ratio - 1) if ratio > 1 else 0.0
    if sigma >= 0.4:  # below that the 3-tap kernel is within 0.5 % of identity
        arr = cv2.GaussianBlur(arr, (0, 0), sigma)
    return cv2.resize(arr, (width, height), interpolation=cv2.INTER_CUBIC)


def crop_4x5_array(arr: np.ndarray, size: tuple[int, int] = INSTA_SIZE) -> np.ndarray:
    """Centred cover-crop of ``arr`` to the aspect of ``size``, resized to exactly ``size``.

    Args:
        arr: ``(H, W, 3)`` ``uint8`` image.
        size: output ``(width, height)``; the default is Instagram's 4:5 portrait.

    Returns:
        ``(size[1], size[0], 3)`` array (small sources are upscaled).
    """
    height, width = arr.shape[:2]
    aspect = size[0] / size[1]
    if width / height > aspect:
        crop_w, crop_h = max(1, round(height * aspect)), height
    else:
        crop_w, crop_h = width, max(1, round(width / aspect))
    x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
    return resize_array(arr[y0 : y0 + crop_h, x0 : x0 + crop_w], size)


def crop_aspect_array(arr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """Centred cover-crop of ``arr`` to the aspect of ``size``, downscaled to ``size``, never upscaled.

    Args:
        arr: ``(H, W, 3)`` ``uint8`` image.
        size: target ``(width, height)``, e.g. ``CROP_SIZES["9x16"]``.

    Returns:
        ``(crop, too_small)``: a new C-contiguous array of exactly ``size`` when the
        largest centred crop of that aspect is at least ``size``; otherwise that crop at
        its native size (same aspect, smaller) and ``too_small=True``.
    """
    height, width = arr.shape[:2]
    aspect = size[0] / size[1]
    if width / height > aspect:
        crop_w, crop_h = max(1, round(height * aspect)), height
    else:
        crop_w, crop_h = width, max(1, round(width / aspect))
    x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
    region = arr[y0 : y0 + crop_h, x0 : x0 + crop_w]
    if crop_w < size[0] or crop_h < size[1]:
        return np.ascontiguousarray(region), True
    return resize_array(region, size), False


def crop_4x5(img: Image.Image, size: tuple[int, int] = INSTA_SIZE) -> Image.Image:
    """Centred cover-crop to 4:5 (or the aspect of ``size``), resized to exactly ``size``.

    Args:
        img: source image (converted to RGB).
        size: output ``(width, height)``, default 1080x1350.

    Returns:
        A new RGB image of exactly ``size``.
    """
    return Image.fromarray(crop_4x5_array(_rgb_array(img), size))


def make_thumbnail(img: Image.Image, *, max_side: int = THUMB_MAX_SIDE) -> Image.Image:
    """Downscaled copy whose long side is at most ``max_side`` (never upscaled).

    Args:
        img: source image (converted to RGB).
        max_side: long-side limit in pixels.

    Returns:
        A new RGB image.
    """
    arr = _rgb_array(img)
    return Image.fromarray(resize_array(arr, fit_size((arr.shape[1], arr.shape[0]), max_side)))


def make_watermarked_thumbnail(img: Image.Image, *, max_side: int = THUMB_MAX_SIDE) -> Image.Image:
    """Thumbnail (long side at most ``max_side``, never upscaled) with the tiled watermark.

    The watermark is drawn at the thumbnail's own size, so it stays legible.

    Args:
        img: source image (converted to RGB).
        max_side: long-side limit in pixels.

    Returns:
        A new RGB image.
    """
    return apply_watermark(make_thumbnail(img, max_side=max_side))


def make_preview(
    img: Image.Image, *, max_side: int = PREVIEW_MAX_SIDE, watermark: str = "LashMe"
) -> Image.Image:
    """Watermarked low-resolution preview, safe to show before a variant is paid for.

    The image is downscaled to ``max_side`` and covered by diagonal rows of
    semi-transparent text (white with a dark outline), drawn on the server, so
    the preview is not usable as a full image.

    Args:
        img: source image (converted to RGB).
        max_side: long-side limit in pixels.
        watermark: tiled text; an empty string disables the watermark.

    Returns:
        A new RGB image, long side at most ``max_side``.
    """
    return apply_watermark(make_thumbnail(img, max_side=max_side), watermark)


#: JPEG quality of the clean display renditions (as the full-size render's clean preview/thumbnail)
CLEAN_DISPLAY_QUALITY = 85


def render_clean_display_files(img: Image.Image) -> dict[str, bytes]:
    """Clean (un-watermarked) preview and thumbnail of a variant, for its owner once she unlocks it.

    The same pixels as the watermarked preview/thumbnail of
    :func:`lashme.images.variant_files.render_variant_files` (same resize path, same
    sizes) without the watermark, so an unlock can swap the card's image at
    once while the full-size image is rendered.  Private: never give them to a
    visitor, a non-owner or an owner who has not unlocked the variant
    (:func:`lashme.jobs.fullres.display_keys` decides).  ~5 ms for a 1024 px image.

    Args:
        img: the variant image (the provider's output, any size).

    Returns:
        JPEG bytes without metadata (quality :data:`CLEAN_DISPLAY_QUALITY`) under
        ``"clean_preview"`` (long side <= 480) and ``"clean_thumb"`` (long side <= 320).
    """
    arr = _rgb_array(img)
    small = resize_array(arr, fit_size((arr.shape[1], arr.shape[0]), PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    return {
        "clean_preview": encode_jpeg_array(small, quality=CLEAN_DISPLAY_QUALITY),
        "clean_thumb": encode_jpeg_array(thumb, quality=CLEAN_DISPLAY_QUALITY),
    }


def apply_watermark(img: Image.Image, text: str = "LashMe") -> Image.Image:
    """Composite the tiled diagonal ``text`` watermark over ``img``.

    Args:
        img: RGB image, typically a preview (<= 480 px).
        text: watermark text; empty returns an unmarked RGB copy.

    Returns:
        A new RGB image of the same size.
    """
    if not text:
        return img.convert("RGB")
    out = img.convert("RGBA")
    out.alpha_composite(_watermark_layer(out.size, text))
    return out.convert("RGB")


def _watermark_layer(size: tuple[int, int], text: str) -> Image.Image:
    """RGBA layer of ``size``: the centre of the cached tile canvas of its long side."""
    width, height = size
    canvas = _watermark_canvas(max(width, height), text)
    x0, y0 = (canvas.width - width) // 2, (canvas.height - height) // 2
    return canvas.crop((x0, y0, x0 + width, y0 + height))


@functools.lru_cache(maxsize=16)
def _watermark_canvas(long_side: int, text: str) -> Image.Image:
    """Staggered rows of ``text`` rotated by 30 degrees, covering any image of ``long_side`` (cached).

    The font size follows the long side only, so one canvas (drawn and rotated once, ~50 ms)
    serves every aspect ratio: previews (480 px) and thumbnails (320 px) of any photo crop it.
    """
    font_px = max(12, round(long_side / 15))
    stroke = max(1, font_px // 16)
    font = ImageFont.load_default(size=font_px)
    side = math.ceil(math.hypot(long_side, long_side)) + 2 * font_px
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    step_x, step_y = (right - left) + 2 * font_px, (bottom - top) + 2 * font_px
    for row, y in enumerate(range(-step_y, side, step_y)):
        for x in range(-step_x + (row % 2) * step_x // 2, side, step_x):
            draw.text(
                (x, y),
                text,
                font=font,
                fill=_WATERMARK_FILL,
                stroke_width=stroke,
                stroke_fill=_WATERMARK_STROKE,
            )
    rotated = canvas.rotate(_WATERMARK_ANGLE, resample=Image.Resampling.BICUBIC)
    x0 = (side - long_side) // 2  # any image of this long side is a centred crop of this square
    return rotated.crop((x0, x0, x0 + long_side, x0 + long_side))


def warm_up(max_sides: tuple[int, ...] = (PREVIEW_MAX_SIDE, THUMB_MAX_SIDE), text: str = "LashMe") -> None:
    """Draw the watermark canvases of the preview and thumbnail sizes now (a worker does it at start-up).

    Forked work horses inherit them instead of drawing them again (~50 ms each).
    """
    for side in max_sides:
        _watermark_canvas(side, text)


def _rgb_array(img: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` ``uint8`` view of ``img`` as RGB."""
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
