"""A worker "zygote" for the fault-injection tests: imports ``worker.py``'s modules once, then
forks one fresh worker process per request.

Starting ``python worker.py`` costs about 2 s of CPU (importing SQLAlchemy, RQ, OpenCV and the
core), which is most of a test that kills a worker ten times and starts a new one each time.
Here a request forks this pre-imported process instead (a few milliseconds); the child then
becomes a worker exactly as ``python worker.py`` would: its own session (process group), the
environment of the request, its log file as stdout/stderr, and ``worker.py`` run as
``__main__`` (logging set-up, database engine, warm-up, ``lashme.jobs.rq_worker.run``).  Only
module imports are inherited; nothing that holds a connection, a thread or a setting exists
before the fork (``import worker`` creates none).  The few module-level constants read from the
environment at import (``LASHME_UPLOAD_RATE``, ``LASHME_API_RATE``) come from the zygote's
environment, which is the test run's: tests that need other values must exec ``worker.py``.

Protocol (one JSON object a line on stdin, one answer a line on stdout)::

    {"log": "/path/worker-0.log", "env": {...}}   ->   "12345\\n"  (the worker's pid)

The zygote answers ``ready`` once imported, ignores SIGCHLD (its workers are reaped by the
kernel, so a killed worker's pid disappears from /proc at once) and exits on end of input.
Use through :meth:`tests.integration.faultkit.Procs.worker`.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path

WORKER_PY = Path(__file__).resolve().parents[2] / "worker.py"


def _become_worker(request: dict) -> None:
    """In the forked child: detach, take the request's environment and log file, run worker.py."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the worker waits for its work horses
    os.environ.clear()
    os.environ.update(request["env"])
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    runpy.run_path(str(WORKER_PY), run_name="__main__")


def main() -> None:
    """Import the worker's modules, then fork a worker for each request line until end of input."""
    sys.path.insert(0, str(WORKER_PY.parent))
    import worker  # noqa: F401 - the whole point: the modules every worker process needs

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    while line := sys.stdin.readline():
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _become_worker(request)
                code = 0
            except BaseException:  # noqa: BLE001 - into the worker's log, as an exec'd worker would
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        out.write(f"{pid}\n")
        out.flush()


if __name__ == "__main__":
    main()
