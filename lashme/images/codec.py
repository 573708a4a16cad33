"""JPEG files without metadata, from Pillow images or ``uint8`` arrays, and full-size decoding.

Plain Python (Pillow + numpy + OpenCV), no Reflex import.  Outputs are written by
:func:`encode_jpeg` (Pillow) or :func:`encode_jpeg_array` (OpenCV), which never write metadata.
:func:`decode_rgb_array` decodes a stored file into one full-size ``uint8`` array (full
resolution: :mod:`lashme.jobs.fullres`).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from lashme.images.decoding import clean_rgb, flatten_rgb


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
    rgb = img if img.mode == "RGB" else flatten_rgb(img)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=quality, optimize=False, progressive=False, exif=b"", comment=b"")
    return buf.getvalue()


def decode_rgb_array(data: bytes) -> np.ndarray:
    """Decode a stored JPEG/PNG/WebP (an original or a provider output we wrote) at full size.

    OpenCV's decoder writes straight into one ``uint8`` array (no Pillow
    32-bit intermediate), converted to RGB in place; EXIF orientation is
    ignored (stored files have none: :func:`encode_jpeg` writes no metadata).
    Falls back to Pillow for formats OpenCV cannot read.

    Args:
        data: image bytes written by this application.

    Returns:
        A writable C-contiguous ``(H, W, 3)`` ``uint8`` RGB array.

    Raises:
        ValueError: the bytes cannot be decoded.
    """
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return np.array(clean_rgb(img, fresh=False))
        except Exception as exc:
            raise ValueError(f"cannot decode image: {exc!r}") from exc
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB, dst=arr)


def encode_jpeg_array(arr: np.ndarray, *, quality: int = 92, consume: bool = False) -> bytes:
    """Encode an RGB array as a baseline 4:2:0 JPEG without metadata (OpenCV's encoder).

    Args:
        arr: ``(H, W, 3)`` ``uint8`` RGB.
        quality: libjpeg quality, 1-100.
        consume: convert ``arr`` to BGR in place instead of copying it (saves one
            image-sized buffer; ``arr`` is garbage afterwards).

    Returns:
        The JPEG file bytes (JFIF header only: no EXIF, ICC or comment).

    Raises:
        ValueError: the encoder failed.
    """
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR, dst=arr if consume else None)
    ok, buf = cv2.imencode(
        ".jpg",
        bgr,
        [
            cv2.IMWRITE_JPEG_QUALITY,
            quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        ],
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
