"""Saved benchmark runs: what was measured (counters per size, paired timing ratios),
where (CPU, Python, library versions, the workspace's git commit) and when — stored as
JSON in a folder, listed, and loaded back by name or as "latest"."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA = "perfkata.bench/1"
LIBRARIES = ("perfkata", "SQLAlchemy", "dramatiq", "redis", "diskcache", "croniter")


@dataclass
class KataRun:
    """One kata's measurements of the learner's solution in one bench run."""

    counters: dict[str, dict[str, float]]  # size -> metric -> value
    seconds: list[float]  # the learner's timed samples
    ratios: list[float]  # per round: learner time / reference time (machine speed cancels)
    seed: int = 0  # the dataset: a run compared against this one replays it


@dataclass
class SavedRun:
    name: str
    created: str
    environment: dict[str, Any]
    katas: dict[str, KataRun] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "created": self.created,
            "environment": self.environment,
            "katas": {slug: asdict(run) for slug, run in self.katas.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedRun:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a perfkata bench run (schema {data.get('schema')!r})")
        katas = {slug: KataRun(**run) for slug, run in data["katas"].items()}
        return cls(data["name"], data["created"], data["environment"], katas)


def environment(workspace: Path) -> dict[str, Any]:
    """Enough to tell two machines or two library versions apart."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git_commit": git_commit(workspace),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(folder: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None  # not a git repository
    return done.stdout.strip() or None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunStore:
    """Saved runs as `<folder>/<name>.json`, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, run: SavedRun) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{run.name}.json"
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(run.to_json(), stream, indent=2)
        os.replace(temporary, target)
        return target

    def all(self) -> list[SavedRun]:
        runs = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                runs.append(SavedRun.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, KeyError, TypeError):
                continue  # a foreign or damaged file is not a run; list the others
        return sorted(runs, key=lambda run: run.created)

    def load(self, name: str) -> SavedRun | None:
        runs = self.all()
        if name == "latest":
            return runs[-1] if runs else None
        return next((run for run in runs if run.name == name), None)
