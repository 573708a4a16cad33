"""Carrying an edit made on a downscaled working copy over to the full-size image.

Plain Python (numpy + OpenCV), no Reflex import.  :func:`apply_edit_at_full_size` works on one
full-size ``uint8`` array, in place and strip by strip, so a 12 MP render needs about one copy of
the image (36 MB) plus a few MB of strips (full resolution: :mod:`lashme.jobs.fullres`).
"""

from __future__ import annotations

import cv2
import numpy as np

_STRIP_ROWS = 128  # rows of the full-size image processed at once by apply_edit_at_full_size
_DETAIL_SIGMA = 1.0  # px at working size: the band whose energy ratio says how an edit changed detail
_ENERGY_SIGMA = 3.0  # px at working size: neighbourhood of that energy estimate
_DETAIL_EPS = 4.0  # (grey levels)^2: flat areas keep gain ~1
_GAIN_LIMITS = (0.0, 2.5)


def apply_edit_at_full_size(full: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Carry an edit made on a downscaled copy over to the full-size image, in place.

    ``after`` is an enhancement of ``before`` (a downscaled copy of ``full``,
    e.g. the 2048 px working copy and a studio preset's result on it).  The
    result is ``up(after) + g * (full - up(before))``: the edited image
    upsampled (bilinear), plus the detail only the full-size image has,
    scaled by a local detail gain ``g`` measured on the small pair: the ratio
    of high-pass (sigma 1 px) luma energy of ``after`` to ``before`` in a
    sigma-3 px neighbourhood, clipped to [0, 2.5].  So tone and colour changes
    carry over exactly at the working resolution, sharpening raises and
    smoothing lowers the full-size detail where the preset did, and an
    identity edit returns ``full`` unchanged.  This is the detail-transfer idea
    of flash/no-flash photography (Petschnigg et al., SIGGRAPH 2004) with the
    upsampling of joint bilateral upsampling (Kopf et al., SIGGRAPH 2007)
    reduced to a bilinear grid.

    Works in strips of 128 rows (float32 temporaries of a few MB) and writes
    into ``full``, so memory stays at about one full-size image.

    Args:
        full: ``(H, W, 3)`` ``uint8`` RGB at full size; overwritten with the result.
        before: ``(h, w, 3)`` ``uint8``: ``full`` downscaled (h <= H, w <= W).
        after: ``(h, w, 3)`` ``uint8``: the edit of ``before``, same shape.

    Returns:
        ``full`` (the same array, edited).

    Raises:
        ValueError: ``before`` and ``after`` differ in shape.
    """
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ")
    height, width = full.shape[:2]
    h, w = before.shape[:2]
    if (h, w) == (height, width):
        full[...] = after
        return full
    gain = _detail_gain(before, after)
    # out = up(after) + g (full - up(before)) ~= g full + up(after - g before), g being smooth:
    # one 3-channel and one 1-channel bilinear upsampling per strip
    offset = after.astype(np.float32) - before.astype(np.float32) * gain[..., None]
    sx, sy = w / width, h / height
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for y0 in range(0, height, _STRIP_ROWS):
        y1 = min(height, y0 + _STRIP_ROWS)
        # dst (x, y) -> src ((x + 0.5) sx - 0.5, (y0 + y + 0.5) sy - 0.5): cv2.resize's pixel centres
        m = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]], dtype=np.float64)
        size = (width, y1 - y0)
        up_offset = cv2.warpAffine(offset, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        g = cv2.warpAffine(gain, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        strip = full[y0:y1]
        out = cv2.multiply(strip, cv2.merge((g, g, g)), dtype=cv2.CV_32F)
        cv2.add(out, up_offset, dst=out)
        cv2.add(out, 0.5, dst=out)
        strip[...] = np.clip(out, 0, 255, out=out)  # truncation after +0.5: rounding
    return full


def _detail_gain(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``(h, w)`` float32 local ratio of high-pass luma amplitude, ``after`` over ``before``."""

    def energy(rgb: np.ndarray) -> np.ndarray:
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        high = luma - cv2.GaussianBlur(luma, (0, 0), _DETAIL_SIGMA)
        return cv2.GaussianBlur(high * high, (0, 0), _ENERGY_SIGMA)

    ratio = (energy(after) + _DETAIL_EPS) / (energy(before) + _DETAIL_EPS)
    return np.clip(np.sqrt(ratio), *_GAIN_LIMITS).astype(np.float32)
