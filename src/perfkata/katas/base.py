"""What a kata is: data plus a few functions, declared once and registered by slug.

Like a dramatiq actor, a kata is declared with keyword options that are validated at
declaration time: an unknown option or a duplicate slug is an author's error, said
immediately, not a mystery at grading time.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session

from perfkata.bench.thresholds import Threshold, parse
from perfkata.errors import KataDefinitionError


@dataclass(frozen=True)
class Check:
    """One rubric line: a metric, a threshold, points, and what to tell the learner."""

    id: str
    title: str
    metric: str  # "statements", "statements:growth", "speedup", ...
    threshold: Threshold
    points: int
    advice: str  # shown when the check fails: what to change
    gate: bool = False  # a failed gate scores the whole kata 0 (a wrong answer)

    @classmethod
    def of(
        cls,
        id: str,
        title: str,
        metric: str,
        threshold: str,
        points: int,
        advice: str,
        gate: bool = False,
    ) -> Check:
        return cls(id, title, metric, parse(threshold), points, advice, gate)


@dataclass(frozen=True)
class Backends:
    """The backends a graded run was asked to use; None means the embedded default."""

    db_url: str | None
    redis_url: str | None
    scratch: Path  # a private folder for embedded stores (SQLite file, diskcache dir)


@dataclass
class RunEnv:
    """What one workload call gets: a fresh session, the kata's services (cache, clock …),
    and a place to record kata-specific counters for the rubric."""

    engine: Engine
    session: Session
    services: Mapping[str, Any]
    size: int = 0  # the dataset this run sees, so a kata can derive its request stream
    seed: int = 0
    counters: dict[str, float] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (metric, diagnostic)
    # the counted run's statement log (bench/probes/statement_log.py) where the kata keeps
    # one (extras["statement_log"]); None in every other run
    statement_log: Any = None

    def record(self, name: str, value: float) -> None:
        self.counters[name] = value

    def phase(self, name: str) -> None:
        """Statements from now on belong to `name` (a widget, a page), for the kata's
        judgement of each one's plan and rows in the parent; a no-op without a log."""
        if self.statement_log is not None:
            self.statement_log.phase = name

    def note(self, metric: str, message: str) -> None:
        """A diagnostic shown under the checks on `metric` when they fail."""
        self.notes.append((metric, message))


Environment = Callable[[Engine, Backends], AbstractContextManager[Mapping[str, Any]]]
Workload = Callable[[ModuleType, RunEnv], Any]


@contextmanager
def no_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    yield {}


@dataclass(frozen=True)
class Kata:
    slug: str
    title: str
    difficulty: str
    summary: str
    files: tuple[str, ...]  # what the learner edits, relative to the kata's folder
    entry_points: tuple[str, ...]  # functions the grader calls in the learner's module
    sizes: tuple[int, ...]  # dataset sizes, ascending; the last is "the largest"
    hints: tuple[str, ...]
    brief: str  # Markdown
    models: type[DeclarativeBase]
    generate: Callable[[int, int], Any]  # (size, seed) -> in-memory dataset
    load: Callable[[Session, Any], None]  # write the dataset into a fresh database
    # (dataset, output) -> None when the output is right, else the first difference
    verify: Callable[[Any, Any], str | None]
    workload: Workload  # run the learner's entry points once; returns the output
    rubric: tuple[Check, ...]
    environment: Environment = no_services  # opens the kata's services for one run
    timed: Workload | None = None  # what a timing sample runs (default: the workload)
    # extra situations run once at the largest size; they record counters on the RunEnv
    scenarios: Mapping[str, Workload] = field(default_factory=dict)
    timing_repeats: int = 1  # workload calls per timing sample, to lift it above timer noise
    # the dataset size timing samples run at (default: the largest); a smaller one keeps a
    # slow starter's rounds short where the speed-up is already the same there
    timing_size: int | None = None
    mutates_data: bool = False  # the workload changes the data: rebuild before every run
    # runs in the worker before the solution is imported (e.g. a broker for its actors)
    prepare: Callable[[], None] | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def main_file(self) -> str:
        return self.files[0]

    @property
    def largest(self) -> int:
        return self.sizes[-1]

    @property
    def timed_size(self) -> int:
        return self.timing_size or self.largest

    @property
    def memory_sizes(self) -> tuple[int, ...]:
        """The sizes whose peak memory the rubric judges: a traced run costs several
        times an untraced one, so only these get one."""
        wanted = {
            size
            for check in self.rubric
            if check.metric.startswith("peak_bytes")
            for size in judged_sizes(check.metric, self.sizes)
        }
        return tuple(sorted(wanted))

    @property
    def max_points(self) -> int:
        return sum(check.points for check in self.rubric)


def judged_sizes(metric: str, sizes: Sequence[int]) -> tuple[int, ...]:
    """The sizes a check's metric is read at: ":growth" fits all of them (":capped_growth"
    too, and leaves out those where a count capped by the size only ran out: see
    bench.scaling.capped_fit), ":tail" the two largest (past a batch size, growth is the
    leak), anything else the largest."""
    ordered = tuple(sorted(sizes))
    kind = metric.partition(":")[2]
    return {"growth": ordered, "capped_growth": ordered, "tail": ordered[-2:]}.get(
        kind, ordered[-1:]
    )


_OPTION_NAMES = tuple(f.name for f in fields(Kata))


def define_kata(**options: Any) -> Kata:
    """Build a Kata from keyword options, rejecting unknown ones with a suggestion."""
    unknown = [name for name in options if name not in _OPTION_NAMES]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, _OPTION_NAMES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KataDefinitionError(f"unknown kata option {name!r}.{hint}")
    missing = [f.name for f in fields(Kata) if f.name not in options and _required(f.name)]
    if missing:
        raise KataDefinitionError(f"kata option(s) missing: {', '.join(missing)}.")
    kata = Kata(**options)
    _validate(kata)
    return kata


_OPTIONAL = (
    "environment",
    "timed",
    "scenarios",
    "timing_repeats",
    "timing_size",
    "mutates_data",
    "prepare",
    "extras",
)


def _required(name: str) -> bool:
    return name not in _OPTIONAL


def _validate(kata: Kata) -> None:
    if not kata.sizes or list(kata.sizes) != sorted(set(kata.sizes)):
        raise KataDefinitionError(f"kata {kata.slug!r}: sizes must be distinct and ascending.")
    growth = [c.id for c in kata.rubric if c.metric.endswith((":growth", ":capped_growth"))]
    if growth and len(kata.sizes) < 3:
        raise KataDefinitionError(
            f"kata {kata.slug!r}: check {growth[0]!r} fits growth, which needs three sizes."
        )
    if kata.timing_size is not None and not 0 < kata.timing_size <= kata.largest:
        raise KataDefinitionError(
            f"kata {kata.slug!r}: timing_size must be between 1 and its largest size."
        )
    if not kata.files or not kata.entry_points:
        raise KataDefinitionError(f"kata {kata.slug!r}: declare its files and entry points.")
    if len(kata.hints) < 3:
        raise KataDefinitionError(f"kata {kata.slug!r}: give at least three progressive hints.")
    ids = [check.id for check in kata.rubric]
    if len(ids) != len(set(ids)):
        raise KataDefinitionError(f"kata {kata.slug!r}: two rubric checks share an id.")
