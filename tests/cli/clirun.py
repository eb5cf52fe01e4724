"""Run the perfkata command as a learner does: a real process, plain output at 100
columns, none of the developer's PERFKATA_* settings leaking in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A hang guard, not a speed limit: a grade here takes seconds; only a hang reaches it.
HANG_GUARD = 900.0

# Test-only injections, run in the perfkata process before its CLI starts (no product
# hook needed): each rebinds a name the CLI looks up at call time.
FEW_ROUNDS = (
    "import perfkata.cli as cli\n"
    "from perfkata.grader.timing import TimingPlan\n"
    # Fewer than 6 paired rounds give no 95 % interval: the speed-up is undecidable,
    # whatever the machine's speed — a deterministic "inconclusive".
    "cli.TimingPlan = lambda **kw: TimingPlan(min_rounds=1, max_rounds=1)\n"
)
INTERNAL_CRASH = (
    "import perfkata.grader.grade as g\n"
    "def crash(*args, **kwargs):\n"
    "    raise RuntimeError('injected perfkata bug')\n"
    "g.measure_all = crash\n"
)


def clean_environment(extra: dict[str, str], no_color: bool) -> dict[str, str]:
    """The caller's environment minus every PERFKATA_* setting (URLs, workspace …)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKATA_")}
    env.update(COLUMNS="100", **extra)
    if no_color:
        env["NO_COLOR"] = "1"
    else:
        env.pop("NO_COLOR", None)
    return env


def perfkata(
    *args: str, cwd: Path, timeout: float = HANG_GUARD
) -> subprocess.CompletedProcess[str]:
    return perfkata_env({}, *args, cwd=cwd, timeout=timeout)


def perfkata_env(
    extra: dict[str, str],
    *args: str,
    cwd: Path,
    no_color: bool = True,
    timeout: float = HANG_GUARD,
    inject: str = "",
) -> subprocess.CompletedProcess[str]:
    start_cli = "import sys\nfrom perfkata.cli import main\nsys.argv[0] = 'perfkata'\nmain()"
    launcher = ["-c", f"{inject}\n{start_cli}"] if inject else ["-m", "perfkata"]
    return subprocess.run(
        [sys.executable, *launcher, *args],
        cwd=cwd,
        env=clean_environment(extra, no_color),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def perfkata_injected(inject: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """perfkata with a test-only change made in its process first (FEW_ROUNDS …)."""
    return perfkata_env({}, *args, cwd=cwd, inject=inject)
