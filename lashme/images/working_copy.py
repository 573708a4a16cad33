"""Working copies: a stored original decoded and downscaled for the enhancement pipelines.

Plain Python (Pillow + numpy + OpenCV), no Reflex import.  :func:`load_for_processing` makes the
copy; the sizes say how large it is for each use (generation, previews, full-resolution renders).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from lashme.images.decoding import clean_rgb
from lashme.images.previews import resize_array

PROCESSING_MAX_SIDE = 2048
#: long side of the working copy generation renders the previews from (they are <= 480 px):
#: 1/7 of the pixels of 2048 px, so previews come sooner and the worker needs less memory.  768 px
#: (half of :data:`FULLRES_WORKING_SIDE`) gives previews closer to the unlocked render than 1024 px
#: did (mean CIELAB dE 0.4-1.3 against the 1536 px working copy's, vs 0.6-1.8, 5 photos; issue 18).
PREVIEW_WORKING_SIDE = 768
#: long side of the working copy a full-resolution studio render starts from
#: (see :func:`lashme.images.full_size.apply_edit_at_full_size`); larger costs memory in the studio engine.
FULLRES_WORKING_SIDE = 1536

# load_for_processing may DCT-downscale a JPEG to at most this fraction below the
# target long side and upscale the rest (e.g. 4032 px -> 2016 px decode -> 2048 px).
_DRAFT_SLACK = 0.02


def load_for_processing(data: bytes, *, max_side: int = PROCESSING_MAX_SIDE) -> Image.Image:
    """Decode a stored original and downscale it for the enhancement pipelines.

    For JPEGs at least about twice ``max_side`` the decoder's DCT-domain
    scaling (``Image.draft``) does most of the reduction for a fraction of the
    cost; the result is then resized with :func:`lashme.images.previews.resize_array`
    so the long side is exactly ``min(max_side, original long side)``.  When
    the DCT scale lands up to 2 % short of the target (4032 px -> 2016 px), the
    last step is a small bicubic upscale.

    Args:
        data: image bytes, normally a JPEG written by :func:`lashme.images.codec.encode_jpeg`.
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
        arr = np.asarray(clean_rgb(img, fresh=False))  # a copy of the pixels, no metadata
    height, width = arr.shape[:2]
    scale = target_long / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Image.fromarray(arr if target == (width, height) else resize_array(arr, target))
