"""A classical colour-space skin mask (no model file, no network).

Skin of every tone clusters in a compact region of the YCbCr chroma plane (Chai & Ngan,
IEEE TCSVT 1999: Cr 133..173, Cb 77..127 on 8-bit BT.601 YCbCr; the region holds across
ethnicities because skin tone differences are mostly in luma).  :func:`skin_mask` turns that
box into a soft membership (smooth ramps at the box edges instead of a hard cut), drops
pixels too dark or too bright to judge and dark features -- pixels clearly darker than their
surroundings, as lashes, brows, eyes and nail outlines are against skin -- so smoothing stays
off the work, and softens the result slightly so retouching fades in and out.

Run it on the white-balanced base (:mod:`lashme.images.correction`): a strong colour cast
moves skin out of the box.  Warm non-skin surfaces (wood, caramel fur, coffee) can also be
marked; retouching is edge-preserving, so textured surfaces survive that.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["skin_mask"]

_CR = (133.0, 173.0)  # Chai & Ngan 1999
_CB = (77.0, 127.0)
_RAMP = 8.0  # chroma levels over which membership fades to 0 outside the box
_LUMA = (45.0, 250.0)  # judged luma range (8-bit); ramps of 20 levels inside it
_LUMA_RAMP = 20.0
_DARKER = (14.0, 32.0)  # luma levels below the local mean: a feature from here, fully from there
_FEATURE_DIVISOR = 40  # local-mean box radius = long side / this (~13 px on a 512 px copy)


def skin_mask(rgb: np.ndarray, *, blur: float = 1.5) -> np.ndarray:
    """Soft skin membership of each pixel.

    Args:
        rgb: ``(H, W, 3)`` uint8 sRGB image, usually a small (~512 px) working copy.
        blur: Gaussian sigma (px of ``rgb``) softening the mask; 0 for none.

    Returns:
        ``(H, W)`` float32 in 0..1 (1 = surely skin).
    """
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y, cr, cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    mask = _inside(cr, _CR, _RAMP) * _inside(cb, _CB, _RAMP) * _inside(y, _LUMA, _LUMA_RAMP)
    # dark features: darker than their surroundings by more than _DARKER -> not skin
    radius = max(2, round(max(y.shape) / _FEATURE_DIVISOR))
    darker = cv2.blur(y, (2 * radius + 1, 2 * radius + 1)) - y
    feature = np.clip((darker - _DARKER[0]) / (_DARKER[1] - _DARKER[0]), 0, 1)
    feature = cv2.dilate(feature, np.ones((3, 3), np.uint8))  # spare the features' rims too
    mask *= 1 - feature
    if blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return mask


def _inside(x: np.ndarray, bounds: tuple[float, float], ramp: float) -> np.ndarray:
    """1 inside ``bounds``, falling linearly to 0 over ``ramp`` outside (float32)."""
    lo, hi = bounds
    return np.clip(np.minimum(x - lo, hi - x) / ramp + 1.0, 0.0, 1.0).astype(np.float32)
