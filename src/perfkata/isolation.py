"""Fences around the learner's code, used by the grader's worker and by a kata's own job
processes: the reference solutions cannot be opened or imported (an audit hook — it
cannot be removed once added), and the environment holds nothing but what Python needs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from perfkata.katas.files import kata_files_root
from perfkata.ownership import OWNER_ENV


def forbid_reading(folder: Path) -> None:
    root = os.path.realpath(folder) + os.sep

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            path = os.fsdecode(args[0])
            if os.path.realpath(path).startswith(root):
                raise PermissionError(
                    f"perfkata: the reference solutions are not readable while grading ({path})"
                )

    sys.addaudithook(hook)


def guard_learner(solution: Path) -> None:
    """Unless the file graded as the learner's is itself a reference (`--solution
    reference`), nothing under the reference solutions may be opened."""
    forbidden = kata_files_root() / "solutions"
    if not solution.resolve().is_relative_to(forbidden.resolve()):
        forbid_reading(forbidden)


ALLOWED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "COVERAGE_PROCESS_START",
    OWNER_ENV,  # names the grade a process works for: orphans are found by it
)


def worker_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """Only what Python and the katas need: no tokens, passwords or cloud keys reach the
    learner's code (the grader hands URLs to the worker in its load request)."""
    env = {name: environ[name] for name in ALLOWED_ENV if name in environ}
    env.update(PYTHONHASHSEED="0", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    return env
