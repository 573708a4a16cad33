"""Decoding photos safely: the HEIF opener, Pillow's decompression-bomb guard and clean 8-bit sRGB RGB.

Plain Python (Pillow + pillow-heif + numpy), no Reflex import.

Importing this module (every decoder of this package does) registers the HEIF/HEIC opener and sets
Pillow's process-wide decompression-bomb guard ``PIL.Image.MAX_IMAGE_PIXELS`` to twice the upload
pixel cap :data:`MAX_UPLOAD_PIXELS`.  :func:`clean_rgb` turns a loaded image into an oriented, sRGB,
8-bit RGB image with all metadata dropped; :func:`flatten_rgb` composites transparency on white.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

pillow_heif.register_heif_opener()

#: largest pixel count of an upload (40 MP); Pillow's guard below is set from it
MAX_UPLOAD_PIXELS = 40_000_000

# Pillow warns above this many pixels and raises DecompressionBombError above twice it.
Image.MAX_IMAGE_PIXELS = 2 * MAX_UPLOAD_PIXELS

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
#: what Pillow raises (or warns, as an error) above its guard: a decompression bomb
BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def clean_rgb(img: Image.Image, *, fresh: bool = True) -> Image.Image:
    """Oriented, sRGB, 8-bit RGB version of a loaded image, with ``info`` emptied.

    With ``fresh=False`` an already-RGB, unrotated, profile-less ``img`` is
    returned as is (orientation is applied in place), saving a full-size copy.
    """
    icc = img.info.get("icc_profile")
    with contextlib.suppress(Exception):  # malformed EXIF must not reject a decodable photo
        ImageOps.exif_transpose(img, in_place=True)
    out = flatten_rgb(img) if img.mode != "CMYK" else img
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


def flatten_rgb(img: Image.Image) -> Image.Image:
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
