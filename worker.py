"""RQ worker for LashMe: preloads and warms up the core, then works the generation queue.

Usage: ``python worker.py`` (``REDIS_URL`` must be set; the launcher does it).
"""

import lashme.jobs.generation  # noqa: F401 - preload the core once, not in every work horse
import lashme.jobs.tasks  # noqa: F401
import lashme.providers.studio  # noqa: F401 - OpenCV/numpy import takes ~0.3 s
from lashme.jobs.generation import warm_up
from lashme.jobs.rq_worker import run
from lashme.ops.db import get_engine
from lashme.ops.logging_setup import configure
from lashme.ops.settings import get_settings

if __name__ == "__main__":
    configure("worker")
    get_engine()
    warm_up()  # OpenCV tables, watermark canvases: the work horse inherits them
    run(with_scheduler=get_settings().worker_scheduler)
