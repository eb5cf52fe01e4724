"""Fences inside the learner's process, used by the grader's worker and by a kata's own
job processes: the folders the grader names (reference solutions, counter cache) cannot
be opened or imported (an audit hook — it cannot be removed once added), and the
environment holds nothing but what Python needs. The operating system's fences (mount
and PID namespaces, an unprivileged uid) are fences.py's."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from perfkata.ownership import OWNER_ENV

FORBIDDEN: list[str] = []  # the folders, handed on to a kata's job processes to fence too


def forbid_reading(folders: list[Path]) -> None:
    """Nothing under these folders may be opened. The grader names them (the reference
    solutions, its counter cache); os.path.realpath is bound now, so a learner who
    replaces it later does not blind the check."""
    realpath, sep = os.path.realpath, os.sep
    roots = tuple(realpath(folder) + sep for folder in folders)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in ("open", "os.rename", "os.remove", "os.link", "shutil.copyfile") and args:
            for arg in args[:2]:
                if isinstance(arg, str | bytes | os.PathLike):
                    path = os.fsdecode(arg)
                    if realpath(path).startswith(roots):
                        raise PermissionError(
                            f"perfkata: {path} is off limits while grading (the reference "
                            "solutions are not readable, nor perfkata's cache)"
                        )

    if roots:
        sys.addaudithook(hook)
        FORBIDDEN.extend(str(folder) for folder in folders)


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
