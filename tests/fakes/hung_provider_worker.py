"""A worker whose generation provider never answers (an upstream that hangs), for time-out tests.

Run as ``python -m tests.fakes.hung_provider_worker``: the real worker loop,
with ``lashme.jobs.generation.get_provider`` returning :class:`HungProvider`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import lashme.jobs.generation
import lashme.jobs.tasks  # noqa: F401
from lashme.jobs.rq_worker import run
from lashme.ops.logging_setup import configure


class HungProvider:
    """Accepts the photo and then never returns (sleeps an hour), like a stuck remote API call."""

    name = "studio"

    def generate(self, original: bytes, presets: Sequence[str]):
        time.sleep(3600)
        raise AssertionError("unreachable")


if __name__ == "__main__":
    configure("worker")
    lashme.jobs.generation.get_provider = lambda name: HungProvider()
    run(with_scheduler=False)
