"""A Redis of the test's own, on a free port, that a test may kill: the shared Redis is
never stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayRedis:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.pidfile = folder / f"redis-{self.port}.pid"
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--bind",
                "127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        for _ in range(200):
            if self.pidfile.exists() and self.pidfile.read_text().strip():
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """Dies as a crashed server does: SIGKILL, no goodbye to its clients."""
        if self.pidfile.exists():
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(self.pidfile.read_text().strip()), signal.SIGKILL)
            self.pidfile.unlink(missing_ok=True)


@contextmanager
def throwaway_redis(folder: Path) -> Iterator[ThrowawayRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.kill()
