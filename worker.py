"""RQ worker for LashMe: preloads the core, then works the generation queue.

Usage: ``python worker.py`` (``REDIS_URL`` must be set; the launcher does it).
"""

import lashme.generation  # noqa: F401 - preload the core once, not in every forked work horse
import lashme.providers.studio  # noqa: F401 - OpenCV/numpy import takes ~0.3 s
import lashme.tasks  # noqa: F401
from lashme.db import get_engine
from lashme.logging_setup import configure
from lashme.rq_worker import run
from lashme.settings import get_settings

if __name__ == "__main__":
    configure("worker")
    get_engine()
    run(with_scheduler=get_settings().worker_scheduler)
