"""Fidelity guard: does a generated variant keep the structure of the master's work?

Generative image-to-image models (FLUX on fal) can redraw lashes, brows or nails, which a
master cannot honestly post.  :func:`assess` compares a generated image with the original and
returns a :class:`Fidelity` with a structural score in 0..1 and an ``altered`` verdict.

How the score is measured (plain numpy + OpenCV, ~10 ms):

1. **Align sizes**: the original is centre-cropped to the generated image's aspect ratio (what
   a provider returning e.g. 3:4 does) and both are area-resized to 384 px on the long side,
   in luma.
2. **Align position**: a global shift found by phase correlation (Kuglin & Hines, 1975) is
   undone when it is small (<= 4 % of the side), so a reframed but faithful image is not
   punished.
3. **Compare structure only**: the structure term of SSIM (Wang, Bovik, Sheikh & Simoncelli,
   IEEE TIP 2004), ``s = (cov(x, y) + C) / (sd(x) sd(y) + C)`` with Gaussian windows
   (sigma 1.5 px), on both images after a mild blur (sigma 0.7 px).  It ignores brightness and contrast, so
   honest edits (light, colour, smoothing of flat skin) keep ``s`` near 1, while moved or
   redrawn edges drop it.
4. **Weight toward the work**: each pixel's ``s`` is weighted by the original's edge strength
   (lashes, brow hairs, nail outlines are where the edges are) times a centred Gaussian
   (the work is usually in the middle of the frame), and averaged.

Threshold (:data:`ALTERED_BELOW` = 0.88), calibrated on the real test photos (astronaut,
coffee, chelsea, grace_hopper): faithful edits -- the four studio presets, the fal stand-in's
3:4 crop with a colour shift, a regenerated texture (blur + noise + JPEG q70), a resize --
score 0.92-1.0; a smooth warp moving edges by up to 1 % of the image scores 0.85-0.89, by 2 %
0.7-0.8, and a different picture 0.0-0.3.  FLUX outputs were not available offline: re-check
the threshold on a sample of real fal variants (the score is logged per variant).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

__all__ = ["ALTERED_BELOW", "Fidelity", "assess", "score"]

#: A variant whose score is below this is ``altered`` (not offered for unlock).
ALTERED_BELOW = 0.88

_SIDE = 384  # working long side, px
_MAX_SHIFT = 0.04  # largest global shift undone, fraction of the side
_BLUR = 0.7  # pre-blur sigma (px at _SIDE): JPEG noise and fine texture do not vote
_WINDOW = 1.5  # SSIM Gaussian window sigma, px at _SIDE
_C = 0.5  # SSIM-style stabiliser (8-bit levels squared), small: only flat areas fall back to 1
_CENTRE_SIGMA = 0.35  # centre weight, Gaussian sigma as a fraction of each side
_EDGE_FLOOR = 0.05  # weight of flat areas relative to the strongest edges


@dataclass(frozen=True)
class Fidelity:
    """The guard's verdict on one generated variant.

    Attributes:
        score: structural fidelity 0..1 (1 = the same structure; see the module docstring).
        altered: ``score < threshold``: the variant reshapes the work.
        threshold: the threshold used (:data:`ALTERED_BELOW` unless overridden).
        shift: global shift undone before comparing, ``(dx, dy)`` in working px (384 long side).
    """

    score: float
    altered: bool
    threshold: float
    shift: tuple[float, float]


def assess(
    original: Image.Image | np.ndarray | bytes,
    generated: Image.Image | np.ndarray | bytes,
    *,
    threshold: float = ALTERED_BELOW,
) -> Fidelity:
    """Score a generated variant against the original and decide whether it is altered.

    Args:
        original: the master's photo: PIL image, ``(H, W, 3)`` uint8 RGB array or encoded bytes.
        generated: the provider's output, same kinds; any size or aspect ratio.
        threshold: score below which the variant is ``altered``.

    Returns:
        The :class:`Fidelity`.

    Raises:
        ValueError: an image cannot be decoded or is smaller than 16 px.
    """
    value, shift = _score(_luma(original), _luma(generated))
    return Fidelity(score=value, altered=value < threshold, threshold=threshold, shift=shift)


def score(original: Image.Image | np.ndarray | bytes, generated: Image.Image | np.ndarray | bytes) -> float:
    """Only the structural fidelity score 0..1 of :func:`assess`."""
    return assess(original, generated).score


def _score(original: np.ndarray, generated: np.ndarray) -> tuple[float, tuple[float, float]]:
    gh, gw = generated.shape
    original = _cover_crop(original, gw / gh)
    size = _working_size(gw, gh)
    x = cv2.resize(original, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    y = cv2.resize(generated, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    x = cv2.GaussianBlur(x, (0, 0), _BLUR)
    y = cv2.GaussianBlur(y, (0, 0), _BLUR)
    window = np.outer(np.hanning(size[1]), np.hanning(size[0])).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(x, y, window)
    if abs(dx) <= _MAX_SHIFT * max(size) and abs(dy) <= _MAX_SHIFT * max(size):
        undo = np.float32([[1, 0, -dx], [0, 1, -dy]])
        y = cv2.warpAffine(y, undo, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    else:
        dx = dy = 0.0
    s = _structure(x, y)
    weight = _weights(x)
    return float(np.clip((s * weight).sum() / weight.sum(), 0.0, 1.0)), (float(dx), float(dy))


def _structure(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM structure term of two float32 images (same shape)."""

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (0, 0), _WINDOW)

    mx, my = blur(x), blur(y)
    vx = np.maximum(blur(x * x) - mx * mx, 0)
    vy = np.maximum(blur(y * y) - my * my, 0)
    cov = blur(x * y) - mx * my
    return (cov + _C) / (np.sqrt(vx * vy) + _C)


def _weights(x: np.ndarray) -> np.ndarray:
    """Edge strength of the original times a centred Gaussian (float32, same shape)."""
    gx = cv2.Sobel(x, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(x, cv2.CV_32F, 0, 1)
    edges = cv2.GaussianBlur(np.sqrt(gx * gx + gy * gy), (0, 0), 2.0)
    edges = edges / max(float(edges.max()), 1e-6) + _EDGE_FLOOR
    h, w = x.shape
    yy = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / (_CENTRE_SIGMA * h)
    xx = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / (_CENTRE_SIGMA * w)
    centre = np.exp(-0.5 * (yy[:, None] ** 2 + xx[None, :] ** 2))
    return edges * centre


def _cover_crop(gray: np.ndarray, aspect: float) -> np.ndarray:
    """Centred crop of ``gray`` to width/height ``aspect``."""
    h, w = gray.shape
    if w / h > aspect:
        new_w = max(1, round(h * aspect))
        left = (w - new_w) // 2
        return gray[:, left : left + new_w]
    new_h = max(1, round(w / aspect))
    top = (h - new_h) // 2
    return gray[top : top + new_h]


def _working_size(width: int, height: int) -> tuple[int, int]:
    scale = _SIDE / max(width, height)
    return max(16, round(width * scale)), max(16, round(height * scale))


def _luma(img: Image.Image | np.ndarray | bytes) -> np.ndarray:
    """``(H, W)`` uint8 luma of any supported input."""
    try:
        if isinstance(img, bytes | bytearray):
            with Image.open(io.BytesIO(img)) as decoded:
                img = decoded.convert("RGB")
        if isinstance(img, Image.Image):
            img = np.asarray(img.convert("RGB"))
    except Exception as exc:
        raise ValueError(f"cannot decode the image: {exc!r}") from exc
    arr = np.ascontiguousarray(img)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr[..., :3], cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2 or min(arr.shape) < 16:
        raise ValueError(f"not an image of at least 16 px: shape {arr.shape}")
    return arr.astype(np.uint8)
