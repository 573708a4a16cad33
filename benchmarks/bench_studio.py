"""Benchmark: one 12 MP JPEG -> 4 studio variants -> all delivered files, on one core.

Run from the repository root::

    python benchmarks/bench_studio.py [--repeats 7] [--threads 1]

Builds a 4032x3024 JPEG (quality 92) from a real photo, then times
``StudioProvider().generate`` plus ``render_variant_files`` for each variant,
end to end, and prints median/min wall time with a per-stage breakdown
(decode, the shared base correction, the looks' joint calibration, each preset's look,
each file kind).  Target: median <= 0.5 s on one core.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lashme.images import codec, corrected_base, looks, rendering, variant_files, working_copy  # noqa: E402
from lashme.images.previews import (  # noqa: E402
    INSTA_SIZE,
    PREVIEW_MAX_SIDE,
    THUMB_MAX_SIDE,
    apply_watermark,
    crop_4x5_array,
    fit_size,
    resize_array,
)
from lashme.providers import studio  # noqa: E402
from lashme.providers.base import STUDIO_PRESETS  # noqa: E402
from tests.photos import photo_jpeg  # noqa: E402

SIZE = (4032, 3024)
TARGET_S = 0.5


def end_to_end(data: bytes) -> dict[str, dict[str, bytes]]:
    """What the worker does: generate the 4 variants and render every file."""
    variants = studio.StudioProvider().generate(data, STUDIO_PRESETS)
    return {v.preset: variant_files.render_variant_files(v.image) for v in variants}


def staged(data: bytes) -> dict[str, float]:
    """The same work with each stage timed separately; seconds, file stages summed over variants."""
    times: dict[str, float] = defaultdict(float)

    def timed(name, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times[name] += time.perf_counter() - start
        return result

    arr = timed("decode+resize", lambda: np.asarray(working_copy.load_for_processing(data)))
    base = timed("base correction", corrected_base.prepare, arr)
    scales = timed("look calibration", rendering.amounts, base, list(looks.STYLES.values()))
    scale = dict(zip(looks.STYLES, scales, strict=True))
    for preset in STUDIO_PRESETS:
        out = timed(f"preset {preset}", rendering.style, base, looks.STYLES[preset], scale[preset])
        img = timed("numpy <-> PIL", Image.fromarray, out)
        timed("file full", codec.encode_jpeg, img, quality=92)
        insta = timed("file insta", crop_4x5_array, out, INSTA_SIZE)
        timed("file insta", _encode_array, insta, 90)
        small = timed("file preview", resize_array, out, fit_size(img.size, PREVIEW_MAX_SIDE))
        timed("file preview", _encode_preview, small)
        thumb_size = fit_size((small.shape[1], small.shape[0]), THUMB_MAX_SIDE)
        timed("file thumb", _encode_array, timed("file thumb", resize_array, small, thumb_size), 80)
    return times


def _encode_array(arr: np.ndarray, quality: int) -> bytes:
    return codec.encode_jpeg(Image.fromarray(arr), quality=quality)


def _encode_preview(arr: np.ndarray) -> bytes:
    return codec.encode_jpeg(apply_watermark(Image.fromarray(arr)), quality=80)


def main() -> None:
    """Parse the options, run the benchmark, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads (default 1 core)")
    parser.add_argument("--photo", default="astronaut")
    args = parser.parse_args()

    cv2.setNumThreads(args.threads)
    data = photo_jpeg(args.photo, SIZE, quality=92)
    with Image.open(io.BytesIO(data)) as img:
        print(
            f"input: {args.photo} {img.size[0]}x{img.size[1]} JPEG q92, {len(data) / 1e6:.2f} MB; "
            f"cv2 threads={cv2.getNumThreads()}, repeats={args.repeats}"
        )

    end_to_end(data)  # warm-up: imports, allocator, cached watermark/vignette
    walls = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        files = end_to_end(data)
        walls.append(time.perf_counter() - start)
    kinds = next(iter(files.values()))
    sizes = {kind: sum(len(f[kind]) for f in files.values()) / len(files) / 1e3 for kind in kinds}

    stages: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        for name, seconds in staged(data).items():
            stages[name].append(seconds)

    median = statistics.median(walls)
    verdict = "OK" if median <= TARGET_S else "MISSED"
    print(
        f"end-to-end wall: median {median * 1000:.0f} ms, min {min(walls) * 1000:.0f} ms, "
        f"max {max(walls) * 1000:.0f} ms (target <= {TARGET_S * 1000:.0f} ms: {verdict})"
    )
    print("per-stage median (file stages summed over the 4 variants):")
    total = 0.0
    for name, values in stages.items():
        value = statistics.median(values)
        total += value
        print(f"  {name:24s} {value * 1000:7.1f} ms")
    print(f"  {'sum of stages':24s} {total * 1000:7.1f} ms")
    print("mean file size per variant: " + ", ".join(f"{k} {v:.0f} kB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
