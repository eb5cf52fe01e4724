"""The OS-level fences around a learner's process, told by the grader what to protect.

strict (the default where the kernel allows it): the process runs as pid 1 of a PID
namespace of its own — when it dies, or its launcher is killed, the kernel kills every
process in it, `setsid` and double-fork escapes included — inside a mount namespace where
the file system is read-only but for its scratch folder, the paths the grader names are
hidden, /proc shows only the namespace (not perfkata's environ or command line), and,
as root, it runs as an unused uid/gid with no capabilities and no_new_privs. Not root:
the same in a user namespace (`--map-root-user`), capabilities dropped, no uid change.

basic (PERFKATA_FENCES=basic, or where namespaces are refused): the process is only
started in its own process group; the parent is a child subreaper, so escaped
descendants come back to it and are killed by `kill_descendants`.

This module knows no kata, no workspace and no file of perfkata's: paths come in a
`Fences` value from the grader (plus `protect()`, for the CLI's state and results files).
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODE_ENV = "PERFKATA_FENCES"
ENTER = Path(__file__).with_name("fence_enter.py")
_NAMESPACES = ("--pid", "--fork", "--kill-child", "--mount-proc", "--mount", "--ipc")
UID_BASE, UID_SPAN = 1_500_000_000, 100_000_000  # far above any real account's uid
NPROC_CAP = 1024  # per learner uid (threads count): a fork bomb fails, job workers fit
_protected: list[str] = []


@dataclass(frozen=True)
class Fences:
    """What one fenced process may write, must not see, and needs to read."""

    writable: Sequence[Path] = ()  # its scratch folder(s); everything else is read-only
    hidden: Sequence[Path] = ()  # folders become empty, files /dev/null
    readable: Sequence[Path] = ()  # must stay readable at the same path for its uid
    network: bool = True  # False: a network namespace of its own (loopback down)
    sockets: Path | None = None  # a folder of Unix sockets kept reachable without network
    extra: dict[str, str] = field(default_factory=dict)  # not used by the kernel side


def protect(path: Path) -> None:
    """Hidden from every fenced process this perfkata starts (state, results files)."""
    text = os.path.abspath(path)
    if text not in _protected:
        _protected.append(text)


def mode() -> str:
    """ "strict" or "basic": what PERFKATA_FENCES asks for, and what the machine allows."""
    wanted = os.environ.get(MODE_ENV, "strict").strip().lower()
    if wanted == "basic" or not namespaces_available():
        return "basic"
    return "strict"


def as_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def namespaces_available() -> bool:
    """Can this user make PID and mount namespaces (directly, or in a user namespace)?
    Tried once per perfkata process, with `true`: a few milliseconds."""
    return _try_unshare(_unshare_head()[1:])


def _unshare_head() -> list[str]:
    return ["unshare", *(() if as_root() else ("--user", "--map-root-user")), *_NAMESPACES]


def _try_unshare(options: Sequence[str]) -> bool:
    binary = shutil.which("unshare")
    if binary is None or not sys.platform.startswith("linux"):
        return False
    try:
        done = subprocess.run([binary, *options, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def describe() -> str:
    """Which fences apply, in one line: a grade's footer and `perfkata doctor`."""
    if mode() == "basic":
        why = "asked for" if os.environ.get(MODE_ENV, "").lower() == "basic" else "no namespaces"
        return (
            f"basic ({why}): own process group, escaped processes killed; files, /proc "
            "and the uid not fenced"
        )
    who = "an unused uid, no capabilities" if as_root() else "user namespace, no capabilities"
    return (
        "strict: PID namespace (every process dies with the grade), read-only files but "
        f"scratch, reference/state/results hidden, private /proc and IPC, {who}"
    )


def pick_uid() -> int:
    """An uid (also the gid) no running process has: each fenced process gets its own,
    so concurrent grades (or a grade's three workers) cannot touch each other's files."""
    taken = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                taken.add(entry.stat().st_uid)
            except OSError:
                continue
    while True:
        uid = UID_BASE + random.randrange(UID_SPAN)
        if uid not in taken:
            return uid


def command(argv: Sequence[str], fences: Fences) -> tuple[list[str], int | None, bool]:
    """The command that runs `argv` fenced, the uid it will run as, and whether the
    fences are strict (namespaces: the process started is the launcher, `unshare`)."""
    if mode() == "basic":
        return list(argv), None, False
    uid = pick_uid() if as_root() else None
    writable = [os.path.abspath(p) for p in fences.writable]
    readable = _with_real_paths([*map(str, fences.readable), *writable])
    if fences.sockets is not None:
        readable += _with_real_paths([str(fences.sockets)])
    hidden = [os.path.abspath(p) for p in fences.hidden] + _protected
    spec: dict[str, Any] = {
        "writable": writable,
        # a folder that holds a writable one (a profile's output) stays, read-only
        "hidden": [h for h in hidden if not any(_within(w, h) for w in writable)],
        "readable": readable,
        "uid": uid,
        "gid": uid,
    }
    head = _unshare_head() + ([] if fences.network else ["--net"])
    enter = [sys.executable, "-I", "-S", str(ENTER), encode(spec), "--"]
    return [*head, "--", *enter, *argv], uid, True


def encode(spec: dict[str, Any]) -> str:
    """fence_enter's SPEC: a line per value (a path with a newline is refused)."""
    lines = []
    for key, value in spec.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                if "\n" in str(item):
                    raise ValueError(f"a path perfkata cannot fence: {item!r}")
                lines.append(f"{key} {item}")
    return "\n".join(lines)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _with_real_paths(paths: Iterable[str]) -> list[str]:
    """Each path as given and as resolved: both must be reachable (a venv's python is a
    symlink into /root/.pyenv)."""
    found: dict[str, None] = {}
    for path in paths:
        if os.path.exists(path):
            found[os.path.abspath(path)] = None
            found[os.path.realpath(path)] = None
    return list(found)


def fenced_pid(launcher: int) -> int:
    """The host pid of the process the launcher (`unshare`, strict fences only) started:
    the one to signal for a stack dump. The launcher itself until it has forked."""
    try:
        children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    except OSError:
        return launcher
    return int(children[0]) if children else launcher


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper(prctl: object) -> None:
    """basic fences, in the child before exec: the worker adopts its own orphans (kept
    across exec), so a setsid double fork stays below it and `kill_tree` finds it."""
    if callable(prctl):
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def descendants(root: int) -> list[int]:
    """Every process below `root` by parent links, read from /proc."""
    parent_of: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat_line = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat_line.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parent_of.items() if ppid in frontier}
        found.extend(frontier)
    return found


def kill_tree(root: int) -> None:
    """SIGKILL everything below `root` (twice: a fork may land between scan and kill),
    before `root` itself dies and its orphans scatter to pid 1."""
    for _ in range(2):
        for pid in descendants(root):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
