"""Run the perfkata command as a learner does: a real process, plain output at 100
columns, none of the developer's PERFKATA_* settings leaking in."""

import os
import subprocess
import sys
from pathlib import Path


def perfkata(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return perfkata_env({}, *args, cwd=cwd)


def perfkata_env(extra: dict[str, str], *args: str, cwd: Path, no_color: bool = True):
    env = dict(os.environ, COLUMNS="100", **extra)
    env.pop("PERFKATA_WORKSPACE", None)
    env.pop("PERFKATA_DB_URL", None)
    if no_color:
        env["NO_COLOR"] = "1"
    else:
        env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "perfkata", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
