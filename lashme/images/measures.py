"""Image measures: sharpness (:func:`laplacian_variance`) and colour (:func:`mean_rgb`).

Plain Python (numpy + OpenCV), no Reflex import.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image


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


def _rgb_array(img: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(img, np.ndarray):
        return img
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
