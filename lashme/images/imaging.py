"""Upload validation, decoding and JPEG encoding of LashMe photos.

Plain Python (Pillow + pillow-heif + numpy + OpenCV), no Reflex import.

Every upload is treated as hostile: :func:`validate_upload` judges the bytes
only (never the file name or the declared MIME type), checks the pixel count
from the header before any pixel is decoded, and returns a clean RGB image
with all metadata (EXIF incl. GPS, ICC, XMP, comments) dropped.  Outputs are
written by :func:`encode_jpeg`, which never writes metadata.

Importing this module registers the HEIF/HEIC opener and sets Pillow's
process-wide decompression-bomb guard ``PIL.Image.MAX_IMAGE_PIXELS`` to twice
the upload pixel cap.

The resizing, 4:5 crop, preview and thumbnail helpers live in
:mod:`lashme.images.previews` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import io
import math

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from lashme.errors import UploadRejected
from lashme.images.previews import (
    INSTA_SIZE,
    PREVIEW_MAX_SIDE,
    THUMB_MAX_SIDE,
    apply_watermark,
    crop_4x5,
    crop_4x5_array,
    fit_size,
    make_preview,
    make_thumbnail,
    resize_array,
)

__all__ = [
    "ALLOWED_FORMATS",
    "INSTA_SIZE",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "MIN_UPLOAD_SIDE",
    "PREVIEW_MAX_SIDE",
    "PROCESSING_MAX_SIDE",
    "THUMB_MAX_SIDE",
    "crop_4x5",
    "encode_jpeg",
    "laplacian_variance",
    "load_for_processing",
    "make_preview",
    "make_thumbnail",
    "mean_rgb",
    "render_variant_files",
    "validate_upload",
]

pillow_heif.register_heif_opener()

#: Pillow format names accepted for uploads (pillow-heif reports HEIC as "HEIF").
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MIN_UPLOAD_SIDE = 256
PROCESSING_MAX_SIDE = 2048

# Pillow warns above this many pixels and raises DecompressionBombError above twice it.
Image.MAX_IMAGE_PIXELS = 2 * MAX_UPLOAD_PIXELS

_FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs from phones/cameras are JPEGs
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# load_for_processing may DCT-downscale a JPEG to at most this fraction below the
# target long side and upscale the rest (e.g. 4032 px -> 2016 px decode -> 2048 px).
_DRAFT_SLACK = 0.02
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def validate_upload(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
    min_side: int = MIN_UPLOAD_SIDE,
) -> Image.Image:
    """Check an uploaded file's content and decode it to a clean RGB image.

    Checks, in order: not empty; at most ``max_bytes``; Pillow can identify it;
    its format is in :data:`ALLOWED_FORMATS`; ``width * height <= max_pixels``
    (read from the header, before any pixel is decoded); short side at least
    ``min_side``; the whole image decodes (truncated files fail).  Then the EXIF
    orientation is applied, an embedded ICC profile is converted to sRGB,
    transparency is composited on white, 16-bit/CMYK/grey/palette become 8-bit
    RGB, and all metadata is dropped.

    Args:
        data: the uploaded bytes.
        max_bytes: size limit in bytes (default 10 MiB).
        max_pixels: pixel-count limit (default 40 MP).
        min_side: smallest allowed short side in pixels (default 256).

    Returns:
        A new full-size ``RGB`` image with empty ``info`` (no EXIF, ICC or XMP).

    Raises:
        UploadRejected: ``upload.empty``; ``upload.too_large`` (``max_mb``);
            ``upload.not_image`` (unreadable, truncated or corrupt);
            ``upload.bad_format`` (``format``, e.g. ``"GIF"``);
            ``upload.too_many_pixels`` (``max_mp``; also Pillow's bomb guard);
            ``upload.too_small`` (``min_side``).
    """
    if not data:
        raise UploadRejected("upload.empty")
    if len(data) > max_bytes:
        raise UploadRejected("upload.too_large", max_mb=_round(max_bytes / 2**20))
    try:
        img = Image.open(io.BytesIO(data))
    except _BOMB_ERRORS:
        raise _too_many_pixels(max_pixels) from None
    except Exception:
        raise UploadRejected("upload.not_image") from None
    with img:
        fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "unknown")
        if fmt not in ALLOWED_FORMATS:
            raise UploadRejected("upload.bad_format", format=fmt)
        width, height = img.size
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        if min(width, height) < min_side:
            raise UploadRejected("upload.too_small", min_side=min_side)
        try:
            img.load()
            return _clean_rgb(img)
        except _BOMB_ERRORS:
            raise _too_many_pixels(max_pixels) from None
        except Exception:
            raise UploadRejected("upload.not_image") from None


def encode_jpeg(img: Image.Image, *, quality: int = 90) -> bytes:
    """Encode ``img`` as a baseline sRGB JPEG without any metadata.

    No EXIF, ICC, XMP or comment is written, whatever ``img.info`` holds;
    chroma is 4:2:0 and Huffman optimisation is off (it costs ~2x encode time
    for ~5 % size).  Transparency is composited on white.

    Args:
        img: image in any mode Pillow can convert to RGB.
        quality: libjpeg quality, 1-95.

    Returns:
        The JPEG file bytes.
    """
    rgb = img if img.mode == "RGB" else _flatten_rgb(img)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=quality, optimize=False, progressive=False, exif=b"", comment=b"")
    return buf.getvalue()


def load_for_processing(data: bytes, *, max_side: int = PROCESSING_MAX_SIDE) -> Image.Image:
    """Decode a stored original and downscale it for the enhancement pipelines.

    For JPEGs at least about twice ``max_side`` the decoder's DCT-domain
    scaling (``Image.draft``) does most of the reduction for a fraction of the
    cost; the result is then resized with :func:`lashme.images.previews.resize_array`
    so the long side is exactly ``min(max_side, original long side)``.  When
    the DCT scale lands up to 2 % short of the target (4032 px -> 2016 px), the
    last step is a small bicubic upscale.

    Args:
        data: image bytes, normally a JPEG written by :func:`encode_jpeg`.
        max_side: long-side limit in pixels.

    Returns:
        A new RGB image without metadata.

    Raises:
        PIL.UnidentifiedImageError: ``data`` is not an image.
        OSError: the file is truncated or corrupt.
        PIL.Image.DecompressionBombError: above Pillow's pixel guard.
    """
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        target_long = min(max_side, max(width, height))
        if img.format in ("JPEG", "MPO") and max(width, height) > max_side:
            scale = (1 - _DRAFT_SLACK) * max_side / max(width, height)
            img.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        img.load()
        arr = np.asarray(_clean_rgb(img, fresh=False))  # a copy of the pixels, no metadata
    height, width = arr.shape[:2]
    scale = target_long / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Image.fromarray(arr if target == (width, height) else resize_array(arr, target))


def render_variant_files(img: Image.Image) -> dict[str, bytes]:
    """Render the delivered JPEG files of one variant.

    Args:
        img: the variant image; its long side should be at most 2048 px (a
            larger one is downscaled to 2048 px first).

    Returns:
        JPEG bytes, none with metadata, under the keys ``"full"`` (the image,
        quality 92), ``"insta"`` (centred 4:5 crop, exactly 1080x1350, quality
        90), ``"preview"`` (watermarked, long side <= 480, quality 80) and
        ``"thumb"`` (long side <= 320, quality 80).
    """
    rgb = img if img.mode == "RGB" else _flatten_rgb(img)
    arr = np.asarray(rgb)
    if max(rgb.size) > PROCESSING_MAX_SIDE:
        arr = resize_array(arr, fit_size(rgb.size, PROCESSING_MAX_SIDE))
        rgb = Image.fromarray(arr)
    small = resize_array(arr, fit_size(rgb.size, PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    return {
        "full": encode_jpeg(rgb, quality=92),
        "insta": encode_jpeg(Image.fromarray(crop_4x5_array(arr, INSTA_SIZE)), quality=90),
        "preview": encode_jpeg(apply_watermark(Image.fromarray(small)), quality=80),
        "thumb": encode_jpeg(Image.fromarray(thumb), quality=80),
    }


def laplacian_variance(img: Image.Image | np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the grey image: a sharpness / high-frequency measure.

    Args:
        img: RGB image or ``(H, W, 3)`` ``uint8`` array.

    Returns:
        The variance, in squared grey levels (0-255 scale).
    """
    gray = cv2.cvtColor(_rgb_array(img), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def mean_rgb(img: Image.Image | np.ndarray) -> tuple[float, float, float]:
    """Mean of each channel.

    Args:
        img: RGB image or ``(H, W, 3)`` ``uint8`` array.

    Returns:
        ``(R, G, B)`` means on the 0-255 scale.
    """
    r, g, b = _rgb_array(img).reshape(-1, 3).mean(axis=0, dtype=np.float64)
    return float(r), float(g), float(b)


def _clean_rgb(img: Image.Image, *, fresh: bool = True) -> Image.Image:
    """Oriented, sRGB, 8-bit RGB version of a loaded image, with ``info`` emptied.

    With ``fresh=False`` an already-RGB, unrotated, profile-less ``img`` is
    returned as is (orientation is applied in place), saving a full-size copy.
    """
    icc = img.info.get("icc_profile")
    with contextlib.suppress(Exception):  # malformed EXIF must not reject a decodable photo
        ImageOps.exif_transpose(img, in_place=True)
    out = _flatten_rgb(img) if img.mode != "CMYK" else img
    if icc:
        out = _to_srgb(out, icc)
    if out.mode != "RGB":
        out = out.convert("RGB")
    if out is img:
        if not fresh:
            return img
        out = img.copy()  # a new object: drops the file handle and the cached EXIF
    out.info = {}
    return out


def _flatten_rgb(img: Image.Image) -> Image.Image:
    """RGB image: alpha composited on white, 16-bit scaled to 8-bit, other modes converted."""
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        arr = np.asarray(img, dtype=np.float32) / (1.0 if img.mode == "F" else 257.0)
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert ``img`` (RGB or CMYK) from its embedded ICC profile to sRGB; unchanged on failure."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return img
        return ImageCms.profileToProfile(img, profile, _SRGB, outputMode="RGB") or img
    except Exception:  # unknown or mismatched profile: keep the pixels as they are
        return img


def _too_many_pixels(max_pixels: int) -> UploadRejected:
    return UploadRejected("upload.too_many_pixels", max_mp=_round(max_pixels / 1e6))


def _round(value: float) -> int | float:
    """``10.0 -> 10``, ``7.5 -> 7.5`` for user-facing limits."""
    return int(value) if float(value).is_integer() else round(value, 1)


def _rgb_array(img: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(img, np.ndarray):
        return img
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
