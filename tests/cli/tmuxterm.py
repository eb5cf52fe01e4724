"""What both tmux-driven tests need: tmux itself (skipped on a laptop without it, required
in CI like the services) and a bound that only ends a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Each step waits for its text on the screen; this bound only ends a hang (a step takes
# seconds, even on a busy machine), it is not a speed limit.
HANG_GUARD = 600.0


def need_tmux() -> None:
    """Skip on a laptop without tmux; fail in CI, where it is required like the services."""
    if shutil.which("tmux") is None:
        if os.environ.get("PERFKATA_REQUIRE_SERVICES") == "1":
            pytest.fail("tmux is required (PERFKATA_REQUIRE_SERVICES=1)")
        pytest.skip("tmux is not installed")


def tmux(server: str, *args: str) -> str:
    """A tmux command on a server of the test's own (`-L`, named after its session). On
    the shared default server, another test ending its last session (in the other pytest
    worker, or just before) shut the server down under this test's new-session: exit 1."""
    command = ["tmux", "-L", server, *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def end_server(server: str) -> None:
    """The test's tmux server and its session gone, whatever state they are in, and its
    socket file too (a killed server leaves it in /tmp/tmux-UID)."""
    asked = ["tmux", "-L", server, "display-message", "-p", "#{socket_path}"]
    socket = subprocess.run(asked, capture_output=True, text=True).stdout.strip()
    subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True)
    if socket:
        Path(socket).unlink(missing_ok=True)
