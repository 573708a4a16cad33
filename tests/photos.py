"""Real test photos (no network): scikit-image's samples and matplotlib's Grace Hopper.

A plain module, imported by unit, integration and e2e tests::

    from tests.photos import astronaut_jpeg, photo, with_gps_exif

Names: ``"astronaut"`` (512x512 portrait, face and hair), ``"coffee"``
(600x400, warm tones), ``"chelsea"`` (451x300, cat fur) and
``"grace_hopper"`` (512x600 portrait).  Every function returns a new object;
the decoded arrays are cached.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import piexif
from PIL import Image, ImageOps

PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "grace_hopper")


@functools.cache
def _photo_array(name: str) -> np.ndarray:
    if name == "grace_hopper":
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
            arr = np.asarray(img.convert("RGB")).copy()
    elif name in PHOTO_NAMES:
        from skimage import data

        arr = np.ascontiguousarray(getattr(data, name)()[..., :3])
    else:
        raise ValueError(f"unknown photo {name!r}; choose from {PHOTO_NAMES}")
    arr.flags.writeable = False
    return arr


def photo(name: str, size: tuple[int, int] | None = None) -> Image.Image:
    """A real photo as a new RGB image.

    Args:
        name: one of :data:`PHOTO_NAMES`.
        size: ``(width, height)``: centred cover-crop to that aspect, then a
            Lanczos resize (upscaling allowed); ``None`` keeps the native size.
    """
    img = Image.fromarray(_photo_array(name))
    return img if size is None else ImageOps.fit(img, size, Image.Resampling.LANCZOS)


def photo_array(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """:func:`photo` as a writable ``(H, W, 3)`` uint8 array."""
    return np.array(photo(name, size))


def encode(img: Image.Image, fmt: str, **save_kw) -> bytes:
    """``img`` saved in Pillow format ``fmt`` (``"PNG"``, ``"WEBP"``, ``"HEIF"``, ``"GIF"``...)."""
    if fmt.upper() in ("HEIF", "HEIC"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        fmt = "HEIF"
    buf = io.BytesIO()
    img.save(buf, fmt, **save_kw)
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, quality: int = 92, **save_kw) -> bytes:
    """``img`` as a JPEG."""
    return encode(img.convert("RGB"), "JPEG", quality=quality, **save_kw)


@functools.lru_cache(maxsize=16)
def photo_jpeg(name: str, size: tuple[int, int] | None = None, gps: bool = False, quality: int = 92) -> bytes:
    """A real photo as JPEG bytes, optionally with GPS EXIF (see :func:`with_gps_exif`)."""
    data = jpeg_bytes(photo(name, size), quality=quality)
    return with_gps_exif(data) if gps else data


def astronaut_jpeg(size: tuple[int, int] | None = None, gps: bool = False) -> bytes:
    """scikit-image's astronaut (512x512 native) as JPEG bytes."""
    return photo_jpeg("astronaut", size, gps)


def coffee_jpeg(size: tuple[int, int] | None = None, gps: bool = False) -> bytes:
    """scikit-image's coffee cup (600x400 native) as JPEG bytes."""
    return photo_jpeg("coffee", size, gps)


def chelsea_jpeg(size: tuple[int, int] | None = None, gps: bool = False) -> bytes:
    """scikit-image's cat (451x300 native) as JPEG bytes."""
    return photo_jpeg("chelsea", size, gps)


def grace_hopper_jpeg(size: tuple[int, int] | None = None, gps: bool = False) -> bytes:
    """matplotlib's Grace Hopper portrait (512x600 native) as JPEG bytes."""
    return photo_jpeg("grace_hopper", size, gps)


def _rational(value: float, denominator: int = 10000) -> tuple[tuple[int, int], ...]:
    degrees = int(value)
    minutes_f = (value - degrees) * 60
    minutes = int(minutes_f)
    seconds = round((minutes_f - minutes) * 60 * denominator)
    return (degrees, 1), (minutes, 1), (seconds, denominator)


def with_exif(jpeg: bytes, exif: dict) -> bytes:
    """``jpeg`` with its EXIF replaced by the piexif dict ``exif``."""
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), jpeg, out)
    return out.getvalue()


def with_gps_exif(jpeg: bytes, lat: float = 55.751244, lon: float = 37.618423) -> bytes:
    """``jpeg`` with EXIF carrying a camera model and GPS latitude/longitude (default: Moscow)."""
    exif = {
        "0th": {piexif.ImageIFD.Make: b"LashMeTestCam", piexif.ImageIFD.Model: b"Phone 1"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 12:00:00"},
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _rational(abs(lat)),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _rational(abs(lon)),
        },
        "1st": {},
        "thumbnail": None,
    }
    return with_exif(jpeg, exif)


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with EXIF Orientation set (6 = display rotated 90 degrees clockwise)."""
    exif = {
        "0th": {piexif.ImageIFD.Orientation: orientation},
        "Exif": {},
        "GPS": {},
        "1st": {},
        "thumbnail": None,
    }
    return with_exif(jpeg, exif)
