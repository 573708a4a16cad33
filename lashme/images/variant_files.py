"""The files of a variant: watermarked ones anyone who may see the job gets, clean ones on unlock.

Plain Python (Pillow + numpy + OpenCV), no Reflex import.  :func:`render_variant_files` makes the
low-resolution watermarked preview and thumbnail; :func:`render_unlocked_files` makes the clean
files of an unlocked variant (full size, crops, clean preview and thumbnail) from one full-size
array.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from lashme.images.codec import encode_jpeg, encode_jpeg_array
from lashme.images.decoding import flatten_rgb
from lashme.images.previews import (
    CROP_SIZES,
    PREVIEW_MAX_SIDE,
    THUMB_MAX_SIDE,
    apply_watermark,
    crop_aspect_array,
    fit_size,
    resize_array,
)


def render_variant_files(img: Image.Image) -> dict[str, bytes]:
    """Render the files of one variant that anyone who may see the job can be given.

    Both are low-resolution and watermarked: nothing made here shows clean
    pixels (those are made on unlock by :func:`render_unlocked_files`).

    Args:
        img: the variant image (any size; normally the 2048 px working copy's result).

    Returns:
        JPEG bytes, none with metadata, under the keys ``"preview"`` (watermarked,
        long side <= 480, quality 80) and ``"thumb"`` (watermarked, long side
        <= 320, quality 80).
    """
    arr = np.asarray(img if img.mode == "RGB" else flatten_rgb(img))
    small = resize_array(arr, fit_size((arr.shape[1], arr.shape[0]), PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    return {
        "preview": encode_jpeg(apply_watermark(Image.fromarray(small)), quality=80),
        "thumb": encode_jpeg(apply_watermark(Image.fromarray(thumb)), quality=80),
    }


class UnlockedFiles(dict):
    """The clean files of an unlocked variant (see :func:`render_unlocked_files`).

    A dict of kind -> JPEG bytes (``full``, ``clean_preview``, ``clean_thumb``,
    ``crop-4x5``, ``crop-1x1``, ``crop-9x16``) with two more attributes.

    Attributes:
        size: ``(width, height)`` of ``full``.
        crops: crop name -> ``{"width", "height", "too_small"}``.
    """

    size: tuple[int, int]
    crops: dict[str, dict]


def render_unlocked_files(full: np.ndarray, *, consume: bool = False) -> UnlockedFiles:
    """Render the clean files of an unlocked variant from its full-size image.

    Crops (:data:`CROP_SIZES`) are cut from ``full`` and never upscaled
    (:func:`lashme.images.previews.crop_aspect_array`): a crop the source is
    too small for keeps its native size and is flagged ``too_small``.  The
    clean preview (<= 480 px) and thumbnail (<= 320 px) carry no watermark:
    they are for the owner who unlocked the variant.  The full image is
    encoded last (quality 92), in place when ``consume``.

    Args:
        full: ``(H, W, 3)`` ``uint8`` RGB, the variant at full size.
        consume: let the encoder reuse ``full``'s memory (it is garbage afterwards).

    Returns:
        The files, JPEG bytes without metadata.
    """
    out = UnlockedFiles()
    out.size = (full.shape[1], full.shape[0])
    out.crops = {}
    for name, size in CROP_SIZES.items():
        crop, too_small = crop_aspect_array(full, size)
        out[f"crop-{name}"] = encode_jpeg_array(crop, quality=90)  # crop may be a view of full
        out.crops[name] = {"width": crop.shape[1], "height": crop.shape[0], "too_small": too_small}
        del crop
    small = resize_array(full, fit_size(out.size, PREVIEW_MAX_SIDE))
    thumb = resize_array(small, fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE))
    out["clean_preview"] = encode_jpeg_array(small, quality=85)
    out["clean_thumb"] = encode_jpeg_array(thumb, quality=85)
    out["full"] = encode_jpeg_array(full, quality=92, consume=consume)
    return out
