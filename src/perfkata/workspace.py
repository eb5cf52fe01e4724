"""The learner's workspace: kata folders plus a small progress file, `.perfkata/state.json`.

The state file has a header (format version, writer), is rewritten atomically (temp file
in the same folder, fsync, rename), and a corrupt one is moved aside and rebuilt with a
warning — the CLI never crashes on it and the learner's kata files are never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfkata import __version__
from perfkata.errors import WorkspaceError
from perfkata.katas.base import Kata
from perfkata.katas.files import starter_dir

STATE_VERSION = 1
WORKSPACE_ENV = "PERFKATA_WORKSPACE"
DEFAULT_DIR = "perfkata-work"
STATE_DIR = ".perfkata"


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class KataProgress:
    status: str = "not started"  # "started", "failing", "passed"
    best_score: int | None = None
    last_score: int | None = None
    hints_shown: int = 0
    started_at: str | None = None
    passed_at: str | None = None


@dataclass
class State:
    current: str | None = None
    katas: dict[str, KataProgress] = field(default_factory=dict)

    def progress(self, slug: str) -> KataProgress:
        return self.katas.setdefault(slug, KataProgress())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "written_by": f"perfkata {__version__}",
            "current": self.current,
            "katas": {slug: vars(p) for slug, p in self.katas.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> State:
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"not a version-{STATE_VERSION} perfkata state file")
        if not isinstance(data.get("katas"), dict):
            raise ValueError("'katas' is not a table of katas")
        katas = {slug: checked_progress(slug, entry) for slug, entry in data["katas"].items()}
        current = data.get("current")
        return cls(current if isinstance(current, str) else None, katas)


# What each progress field may hold: a file edited by hand (or by another tool) with
# "best_score": "lots" is caught on reading, not as a TypeError after a grade.
PROGRESS_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "best_score": (int, type(None)),
    "last_score": (int, type(None)),
    "hints_shown": (int,),
    "started_at": (str, type(None)),
    "passed_at": (str, type(None)),
}


def checked_progress(slug: str, entry: Any) -> KataProgress:
    if not isinstance(entry, dict):
        raise ValueError(f"the entry for {slug!r} is not a table")
    for name, value in entry.items():
        allowed = PROGRESS_TYPES.get(name)
        if allowed is None:
            raise ValueError(f"{slug}.{name} is not a progress field")
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise ValueError(f"{slug}.{name} is {value!r}, not a {allowed[0].__name__}")
    return KataProgress(**entry)


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[str] = []

    @property
    def state_path(self) -> Path:
        return self.root / STATE_DIR / "state.json"

    def kata_dir(self, kata: Kata) -> Path:
        return self.root / kata.slug

    def learner_file(self, kata: Kata) -> Path:
        return self.kata_dir(kata) / kata.main_file

    def load_state(self) -> State:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State()
        except OSError as exc:
            raise WorkspaceError(f"Cannot read {self.state_path}: {exc.strerror}.") from None
        try:
            return State.from_json(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            return self._rebuild_corrupt(exc)

    def _rebuild_corrupt(self, exc: Exception) -> State:
        aside = self.state_path.with_name(f"state.json.corrupt-{now().replace(':', '')}")
        try:
            os.replace(self.state_path, aside)
        except OSError as move:  # a read-only workspace: start afresh in memory only
            self.warnings.append(
                f"The progress file {self.state_path} was unreadable ({exc}) and could not "
                f"be moved aside ({move.strerror}); progress starts afresh for this run."
            )
            return State()
        self.warnings.append(
            f"The progress file {self.state_path} was unreadable ({exc}); it was moved to "
            f"{aside.name} and a fresh one started. Your kata files are untouched."
        )
        return State()

    @contextmanager
    def updating(self) -> Iterator[State]:
        """Read, change and write the state under an exclusive lock, so two perfkata
        processes (a hint beside a grade, parallel CI steps) never lose each other's
        update. The lock is flock(2) on the state's folder itself: no lock file to leave
        behind, released by the kernel if the process dies."""
        folder = self.state_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self.load_state()
            yield state
            self.save_state(state)
        finally:
            os.close(fd)  # closing releases the lock

    def save_state(self, state: State) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state.to_json(), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def copy_starter(self, kata: Kata) -> list[Path]:
        """Copy the starter files; refuse, touching nothing, if any learner file exists."""
        target = self.kata_dir(kata)
        existing = [target / name for name in kata.files if (target / name).exists()]
        if existing:
            raise WorkspaceError(
                f"{existing[0]} already exists, so nothing was copied and your work is kept.",
                hint=f"Keep editing it, or run `perfkata reset {kata.slug}` to start over.",
            )
        target.mkdir(parents=True, exist_ok=True)
        copied = []
        for name in kata.files:
            shutil.copyfile(starter_dir(kata.slug) / name, target / name)
            copied.append(target / name)
        brief = target / "BRIEF.md"
        if not brief.exists():
            brief.write_text(kata.brief, encoding="utf-8")
        return copied


def find_workspace(explicit: Path | None = None, cwd: Path | None = None) -> Workspace:
    """--dir, then $PERFKATA_WORKSPACE, then a folder above holding `.perfkata/`, then
    `./perfkata-work` — so `perfkata grade` works from the workspace or from beside it."""
    if explicit is not None:
        return Workspace(explicit.resolve())
    if env := os.environ.get(WORKSPACE_ENV):
        return Workspace(Path(env).resolve())
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR).is_dir():
            return Workspace(folder)
    return Workspace(here / DEFAULT_DIR)


def record_start(workspace: Workspace, kata: Kata) -> None:
    with workspace.updating() as state:
        progress = state.progress(kata.slug)
        if progress.status == "not started":
            progress.status, progress.started_at = "started", now()
        state.current = kata.slug


def record_grade(workspace: Workspace, kata: Kata, score: int, passed: bool) -> KataProgress:
    """Remember the latest score; the best score and a pass are never taken back."""
    with workspace.updating() as state:
        progress = state.progress(kata.slug)
        progress.last_score = score
        progress.best_score = max(score, progress.best_score or 0)
        if passed and progress.status != "passed":
            progress.status, progress.passed_at = "passed", now()
        elif progress.status != "passed":
            progress.status = "failing"
    return progress


def next_hint(workspace: Workspace, kata: Kata) -> tuple[int, str, bool]:
    """(number, text, was_last): the next unseen hint, or the last one again."""
    with workspace.updating() as state:
        progress = state.progress(kata.slug)
        progress.hints_shown = min(progress.hints_shown + 1, len(kata.hints))
        number = progress.hints_shown
    return number, kata.hints[number - 1], number == len(kata.hints)


def upcoming_hint(workspace: Workspace, kata: Kata) -> tuple[int, str, bool]:
    """The hint next_hint would show, without recording it (the state cannot be saved)."""
    number = min(workspace.load_state().progress(kata.slug).hints_shown + 1, len(kata.hints))
    return number, kata.hints[number - 1], number == len(kata.hints)


def current_kata(workspace: Workspace) -> str | None:
    return workspace.load_state().current


def reset_to_starter(workspace: Workspace, kata: Kata) -> Path | None:
    """Move the learner's files to `.perfkata/backups/<kata>-<time>/`, then copy the
    starter back. Returns the backup folder (None if there was nothing to keep)."""
    target = workspace.kata_dir(kata)
    present = [target / name for name in kata.files if (target / name).exists()]
    backup = None
    if present:
        stamp = now().replace(":", "").replace("+0000", "Z")
        backup = workspace.root / STATE_DIR / "backups" / f"{kata.slug}-{stamp}"
        backup.mkdir(parents=True, exist_ok=False)
        for path in present:
            shutil.copy2(path, backup / path.name)  # copy first: the original goes only after
            path.unlink()
    workspace.copy_starter(kata)
    return backup


def hints_so_far(workspace: Workspace, kata: Kata) -> list[str]:
    """Every hint already shown, in order (none if the learner has asked for none yet)."""
    shown = workspace.load_state().progress(kata.slug).hints_shown
    return list(kata.hints[:shown])


def has_passed(workspace: Workspace, kata: Kata) -> bool:
    return workspace.load_state().progress(kata.slug).status == "passed"


def diff_against_reference(learner: Path, reference: Path) -> str:
    """A unified diff from the learner's file to the reference ('' if identical)."""
    import difflib

    mine = learner.read_text(encoding="utf-8").splitlines(keepends=True) if learner.exists() else []
    theirs = reference.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(mine, theirs, f"yours/{learner.name}", f"reference/{reference.name}")
    )
