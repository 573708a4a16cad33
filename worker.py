"""RQ worker for LashMe: preloads the core, then works the generation queue.

Usage: ``python worker.py`` (``REDIS_URL`` must be set; the launcher does it).
"""

import logging

from rq import Worker

import lashme.generation  # noqa: F401 - preload the core once, not in every forked work horse
import lashme.providers.studio  # noqa: F401 - OpenCV/numpy import takes ~0.3 s
import lashme.tasks  # noqa: F401
from lashme.db import get_engine
from lashme.queue import get_queue, get_redis

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    get_engine()
    Worker([get_queue()], connection=get_redis()).work(with_scheduler=True)
