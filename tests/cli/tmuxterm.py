"""What both tmux-driven tests need: tmux itself (skipped on a laptop without it, required
in CI like the services) and a bound that only ends a hang."""

from __future__ import annotations

import os
import shutil
import subprocess

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


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout
