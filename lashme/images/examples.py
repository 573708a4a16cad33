"""The landing page's before/after examples: real photos, improved by our own studio engine.

Plain Python (no Reflex import).  The sources are real portraits that ship inside packages
we already install — scikit-image's ``astronaut`` (NASA portrait of Eileen Collins, public
domain) and matplotlib's ``grace_hopper.jpg`` (US Navy portrait, public domain) — cropped around
the face and eyes to the 4:5 frame an Instagram post uses.  Each "after" is exactly what a
master would get: the caller passes our studio engine (``lashme.providers.studio.StudioProvider``,
injected so this package keeps pointing down the layers), whose ``generate`` runs on the
"before" JPEG with one of our presets.  No stock picture and no hand-made retouch.

The pairs are made on first use and kept in the configured storage (local folder or S3) under
``site/examples/v{VERSION}/``, so every app server shares them and a restart costs nothing.
Bump :data:`VERSION` when the sources, crops or presets change.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps

from lashme.files.storage.base import Storage

#: Key layout version of the stored examples.
VERSION = 1
PREFIX = f"site/examples/v{VERSION}/"
#: Size of each stored image, ``(width, height)`` in pixels (4:5, an Instagram portrait post).
SIZE = (720, 900)
JPEG_QUALITY = 88


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., :3])


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        return np.asarray(img.convert("RGB")).copy()


@dataclass(frozen=True)
class ExampleSource:
    """One example's recipe.

    Attributes:
        name: stable id, part of the storage key (``[a-z_]+``).
        load: returns the source photo as an ``(H, W, 3)`` uint8 RGB array.
        box: crop ``(left, top, right, bottom)`` in source pixels, about 4:5.
        preset: the studio preset that makes the "after", e.g. ``"warm_glow"``.
    """

    name: str
    load: Callable[[], np.ndarray]
    box: tuple[int, int, int, int]
    preset: str


SOURCES: tuple[ExampleSource, ...] = (
    ExampleSource("astronaut", _astronaut, (136, 14, 320, 244), "warm_glow"),
    ExampleSource("grace_hopper", _grace_hopper, (116, 36, 404, 396), "soft_focus"),
)


class Engine(Protocol):
    """What renders an "after": the ``generate`` of :class:`lashme.providers.base.Provider`."""

    def generate(self, original: bytes, presets: Sequence[str]) -> list[Any]:
        """One ``GeneratedVariant`` (with an ``image``) per preset."""


@dataclass(frozen=True)
class ExamplePair:
    """Storage keys of one before/after pair.

    Attributes:
        name: the source's :attr:`ExampleSource.name`.
        preset: the preset that made the "after".
        before_key: the cropped original (JPEG).
        after_key: the studio result (JPEG, same size and framing).
    """

    name: str
    preset: str
    before_key: str
    after_key: str


def pair_keys(source: ExampleSource) -> ExamplePair:
    """The storage keys of ``source``'s pair (nothing is read or written)."""
    base = f"{PREFIX}{source.name}-{source.preset}"
    return ExamplePair(source.name, source.preset, f"{base}-before.jpg", f"{base}-after.jpg")


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return buf.getvalue()


def render_pair(source: ExampleSource, engine: Engine) -> tuple[bytes, bytes]:
    """Make one pair: the 4:5 crop of the real photo and the studio engine's result for it.

    Args:
        source: what to crop and which preset to run.
        engine: the studio provider (``StudioProvider()``).

    Returns:
        ``(before_jpeg, after_jpeg)``, both :data:`SIZE`.

    Raises:
        lashme.providers.base.ProviderError: the engine refused the photo.
        ValueError: the engine returned no image.
    """
    crop = Image.fromarray(source.load()).crop(source.box)
    before = _jpeg(ImageOps.fit(crop, SIZE, Image.Resampling.LANCZOS))
    (variant,) = engine.generate(before, [source.preset])
    after = variant.image
    if after is None:  # pragma: no cover - the studio engine never filters
        raise ValueError(f"the studio engine returned no image for {source.name}")
    if after.size != SIZE:
        after = after.resize(SIZE, Image.Resampling.LANCZOS)
    return before, _jpeg(after)


_lock = threading.Lock()


def ensure_examples(
    storage: Storage, engine: Engine, sources: tuple[ExampleSource, ...] = SOURCES
) -> list[ExamplePair]:
    """The stored pairs, rendered and written first for any that is missing (idempotent).

    Safe to call from several threads (one renders, the others wait) and several processes (the
    same deterministic bytes are written atomically by :meth:`Storage.put`).  About 0.3 s per pair
    on one core the first time, then only ``exists`` checks.

    Args:
        storage: where the pairs live (``lashme.files.storage.get_storage()``).
        engine: the studio provider that renders a missing "after" (``StudioProvider()``).
        sources: the recipes (default :data:`SOURCES`).

    Returns:
        One :class:`ExamplePair` per source, in order.

    Raises:
        lashme.files.storage.base.StorageError: storage cannot be read or written.
    """
    pairs = [pair_keys(source) for source in sources]
    if all(storage.exists(p.before_key) and storage.exists(p.after_key) for p in pairs):
        return pairs
    with _lock:
        for source, pair in zip(sources, pairs, strict=True):
            if storage.exists(pair.before_key) and storage.exists(pair.after_key):
                continue
            before, after = render_pair(source, engine)
            storage.put(pair.before_key, before)
            storage.put(pair.after_key, after)
    return pairs
