"""Hostile uploads: judge the bytes, then decode them to a clean RGB image (:func:`validate_upload`).

Plain Python (Pillow + pillow-heif), no Reflex import.

Every upload is treated as hostile: :func:`validate_upload` judges the bytes only (never the file
name or the declared MIME type), checks the pixel count from the header before any pixel is decoded,
and returns a clean RGB image with all metadata (EXIF incl. GPS, ICC, XMP, comments) dropped.  The
pixel cap and the decoding guards are in :mod:`lashme.images.decoding`.
"""

from __future__ import annotations

import io

from PIL import Image

from lashme.errors import UploadRejected
from lashme.images.decoding import BOMB_ERRORS, MAX_UPLOAD_PIXELS, clean_rgb

#: Pillow format names accepted for uploads (pillow-heif reports HEIC as "HEIF").
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_UPLOAD_SIDE = 256

_FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs from phones/cameras are JPEGs


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
    except BOMB_ERRORS:
        raise too_many_pixels(max_pixels) from None
    except Exception:
        raise UploadRejected("upload.not_image") from None
    with img:
        fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "unknown")
        if fmt not in ALLOWED_FORMATS:
            raise UploadRejected("upload.bad_format", format=fmt)
        width, height = img.size
        if width * height > max_pixels:
            raise too_many_pixels(max_pixels)
        if min(width, height) < min_side:
            raise UploadRejected("upload.too_small", min_side=min_side)
        try:
            img.load()
            return clean_rgb(img)
        except BOMB_ERRORS:
            raise too_many_pixels(max_pixels) from None
        except Exception:
            raise UploadRejected("upload.not_image") from None


def too_many_pixels(max_pixels: int) -> UploadRejected:
    """The ``upload.too_many_pixels`` refusal for a cap of ``max_pixels`` (said in megapixels)."""
    return UploadRejected("upload.too_many_pixels", max_mp=_round(max_pixels / 1e6))


def _round(value: float) -> int | float:
    """``10.0 -> 10``, ``7.5 -> 7.5`` for user-facing limits."""
    return int(value) if float(value).is_integer() else round(value, 1)
