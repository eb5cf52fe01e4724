"""Turn what the probes saw into diagnostics: one sentence each, at the learner's line.

Each diagnostic names the metric it explains, so a report can show it under the check
that failed, and carries file/line for editors and CI annotations. Diagnostics on the
metric NOTE explain no check: they are notes shown on any grade (a correct loader that
costs more round trips than another is a note, never a failed check).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from perfkata.bench.probes.eager import UnusedEagerProbe
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe

NOTE = "note"  # the metric of a diagnostic that is advice, not the reason a check failed


@dataclass(frozen=True)
class Diagnostic:
    metric: str
    message: str
    file: str | None = None
    line: int | None = None
    count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnostic:
        return cls(**data)


def lazy_load_diagnostics(probe: LazyLoadProbe) -> list[Diagnostic]:
    found = []
    for site, count in probe.sites.most_common():
        where = f" at {site.where.short()}" if site.where else ""
        message = (
            f"N+1: {site.relationship} lazily loaded {count} times{where} — "
            f"add .options({site.suggested_option()})"
        )
        file, line = (site.where.file, site.where.line) if site.where else (None, None)
        found.append(Diagnostic("lazy_loads", message, file, line, count))
    return found


def eager_diagnostics(probe: UnusedEagerProbe) -> list[Diagnostic]:
    return [
        Diagnostic("unused_eager_loads", unused.message(), count=unused.loaded_objects)
        for unused in probe.unused()
    ]


def loader_notes(probe: UnusedEagerProbe) -> list[Diagnostic]:
    return [Diagnostic(NOTE, note.message()) for note in probe.cheaper_loaders()]


def bypass_diagnostics(probe: QueryProbe, at_least: int) -> list[Diagnostic]:
    """Statements sent to the driver around SQLAlchemy: counted all the same, and where
    one learner line sent many of them (one per post), that line is named."""
    bypassed = probe.results()["bypassed_statements"]
    if not bypassed:
        return []
    found = [
        Diagnostic(
            "statements",
            f"{bypassed} statements went to the database driver directly, around SQLAlchemy; "
            "they are counted all the same",
            count=bypassed,
        )
    ]
    for where, count in probe.bypass_sites.most_common():
        if where is None or count < at_least:
            continue
        first_line = " ".join(probe.bypass_text[where].split())[:60]
        found.append(
            Diagnostic(
                "statements",
                f"the driver ran {count} statements at {where.short()} ({first_line}…) — "
                f"{in_a_loop(first_line)}",
                where.file,
                where.line,
                count,
            )
        )
    return found


def python_time_diagnostic(
    probe: QueryProbe, lazy: LazyLoadProbe, at_least: int
) -> list[Diagnostic]:
    """Explains a missed speed-up when the queries are not the reason: no lazy load, no
    statement repeated per row, none around SQLAlchemy. The time is then in the code
    between the queries, and the profiler names the line."""
    looped = probe.repeated(at_least) or probe.results()["bypassed_statements"]
    if lazy.results()["lazy_loads"] or looped:
        return []
    return [
        Diagnostic(
            "speedup",
            f"the queries are not what is slow ({plural(probe.statements, 'statement')}, "
            "none repeated per row, no lazy loads): the time goes in the code around them — "
            "`perfkata profile` names your hottest line",
        )
    ]


def in_a_loop(statement: str) -> str:
    """The advice for a statement run once per row: a read is fetched in one query; a
    DELETE, UPDATE or INSERT is sent once for a whole batch of rows."""
    if statement.lstrip().upper().startswith(("DELETE", "UPDATE", "INSERT")):
        return "a statement inside a loop; change a whole batch of rows with one statement"
    return "a query inside a loop; fetch the rows in one query"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def query_diagnostics(probe: QueryProbe, size: int, lazy_lines: set[int]) -> list[Diagnostic]:
    at_least = max(10, size // 10)
    found = bypass_diagnostics(probe, at_least)
    for text, count, where in probe.repeated(at_least):
        if where is None or where.line in lazy_lines:
            continue  # lazy loads already have a sharper diagnostic
        first_line = " ".join(text.split())[:60]
        found.append(
            Diagnostic(
                "statements",
                f"the same statement ran {count} times at {where.short()} ({first_line}…) — "
                f"{in_a_loop(first_line)}",
                where.file,
                where.line,
                count,
            )
        )
    return found


def collect_diagnostics(
    queries: QueryProbe, lazy: LazyLoadProbe, eager: UnusedEagerProbe, size: int
) -> list[dict[str, Any]]:
    lazy_found = lazy_load_diagnostics(lazy)
    lazy_lines = {d.line for d in lazy_found if d.line is not None}
    every = (
        lazy_found
        + eager_diagnostics(eager)
        + query_diagnostics(queries, size, lazy_lines)
        + python_time_diagnostic(queries, lazy, max(10, size // 10))
        + loader_notes(eager)
    )
    return [d.as_dict() for d in every]
