"""Peak memory and time of the streamed gallery ZIP (lashme.files.downloads.stream_zip).

Writes N random 3 MB "full-size" files to a temporary local storage, then streams their ZIP to
nowhere while tracemalloc watches: the peak should stay near one file (plus a chunk), whatever N.
Random bytes stand in for JPEGs (stored entries: the content does not matter).

    .venv/bin/python benchmarks/bench_zip_stream.py [N ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from lashme.files import downloads
from lashme.files.storage.local import LocalStorage

FILE_BYTES = 3 * 1024 * 1024


def run(n: int) -> tuple[float, float, float]:
    """``(archive MB, peak MB, seconds)`` of streaming a ZIP of ``n`` files."""
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(Path(tmp), signing_key=b"k" * 32)
        entries = []
        for i in range(n):
            key = f"u1/j{i}/variants/0/full.jpg"
            storage.put(key, os.urandom(FILE_BYTES))
            entries.append(downloads.ZipEntry(f"lashme-{i:08d}-1-natural.jpg", key, datetime.now(UTC)))
        tracemalloc.start()
        started, size = time.perf_counter(), 0
        for chunk in downloads.stream_zip(entries, storage=storage):
            size += len(chunk)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return size / 2**20, peak / 2**20, seconds


def main() -> None:
    """Print archive size, peak traced memory and time (medians of 3) for each N."""
    counts = [int(a) for a in sys.argv[1:]] or [4, 16, 48]
    print(f"load: {os.getloadavg()[0]:.2f}  file: {FILE_BYTES / 2**20:.0f} MB each")
    for n in counts:
        runs = sorted(run(n) for _ in range(3))
        size = runs[1][0]
        peaks = sorted(r[1] for r in runs)
        times = sorted(r[2] for r in runs)
        print(
            f"{n:3d} files: archive {size:7.1f} MB  peak traced memory median {peaks[1]:5.1f} MB "
            f"(min {peaks[0]:.1f}, max {peaks[2]:.1f})  time median {times[1]:.2f} s"
        )


if __name__ == "__main__":
    main()
