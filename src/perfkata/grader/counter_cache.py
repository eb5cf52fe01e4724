"""The starter's and the reference's deterministic counters, kept between grades: they do
not depend on the learner, so a grade counts only the learner's code.

An entry is keyed by perfkata's version, a hash of perfkata's own source and of the
solution file, the kata, its sizes, the backend kind and the dataset seed. Counters that
come out identical for two different seeds are also kept under a seed-free key, and only
then reused for a seed never counted: a counter that does depend on the data never
gets past that check. The folder is one the learner's worker may not open (an audit
hook, like the reference solutions'): what it holds decides "<=ref+1" thresholds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import perfkata
from perfkata.grader.results import NOT_DETERMINISTIC

CACHE_ENV = "PERFKATA_CACHE_DIR"
SCHEMA = 1


def cache_dir() -> Path:
    """$PERFKATA_CACHE_DIR, else $XDG_CACHE_HOME/perfkata, else ~/.cache/perfkata."""
    if found := os.environ.get(CACHE_ENV):
        return Path(found)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perfkata"


@cache
def source_hash() -> str:
    """perfkata's own source (probes, katas, worker): a change in any makes a new key."""
    digest = hashlib.sha256(perfkata.__version__.encode())
    root = Path(perfkata.__file__).parent
    for path in sorted(root.rglob("*.py")) + sorted(root.rglob("*.md")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def key(parts: dict[str, Any], solution: Path, seed: int | None) -> str:
    digest = hashlib.sha256(source_hash().encode())
    digest.update(solution.read_bytes())
    digest.update(json.dumps({**parts, "seed": seed}, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def deterministic(counters: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        size: {k: v for k, v in values.items() if k not in NOT_DETERMINISTIC}
        for size, values in counters.items()
    }


class CounterCache:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir()

    def get(self, parts: dict[str, Any], solution: Path, seed: int) -> dict[str, Any] | None:
        """The entry for this seed, or the seed-free one; None when neither exists."""
        for which in (seed, None):
            entry = self._read(key(parts, solution, which))
            if entry is not None:
                return entry
        return None

    def put(self, parts: dict[str, Any], solution: Path, seed: int, entry: dict[str, Any]) -> None:
        """Keep the entry; promote it seed-free once another seed gave the same counters."""
        self._write(key(parts, solution, seed), entry)
        index_key = key(parts, solution, -1)
        seen = self._read(index_key) or {"seeds": {}}
        seen["seeds"][str(seed)] = deterministic(entry["counters"])
        others = [c for s, c in seen["seeds"].items() if s != str(seed)]
        if others and all(c == seen["seeds"][str(seed)] for c in others):
            self._write(key(parts, solution, None), entry)
        seen["seeds"] = dict(list(seen["seeds"].items())[-4:])
        self._write(index_key, seen)

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            found = json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.get("schema") == SCHEMA else None

    def _write(self, name: str, entry: dict[str, Any]) -> None:
        """Atomic (a reader sees the old entry or the new one); a read-only home is fine."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({**entry, "schema": SCHEMA}, out)
            os.replace(tmp, self.folder / f"{name}.json")
