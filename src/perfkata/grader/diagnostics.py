"""Turn what the probes saw into diagnostics: one sentence each, at the learner's line.

Each diagnostic names the metric it explains, so a report can show it under the check
that failed, and carries file/line for editors and CI annotations. Diagnostics on the
metric NOTE explain no check: they are notes shown on any grade (a correct loader that
costs more round trips than another is a note, never a failed check).

Findings (a diagnostic's `kind`) are what queries did wrong, each at the learner's line:
an N+1 with the line whose query loaded the parents and the option written into it; a
statement repeated inside one call of the learner's, grouped by its normalised SQL and
line; a write sent one row at a time, with the batched statement for its table; columns
reloaded one object at a time; joined collections fetching far more rows than objects.
They are teaching text: nothing here changes a count that is graded, and a correct
solution has none (every correct sample learner is checked for that).
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import DeclarativeBase

from perfkata.bench.probes.eager import UnusedEagerProbe
from perfkata.bench.probes.joinedrows import JoinedQuery, JoinedRowsProbe
from perfkata.bench.probes.lazyloads import LazyLoadProbe, LazyLoadSite
from perfkata.bench.probes.queries import QueryProbe, StatementGroup
from perfkata.bench.probes.reloads import ColumnReloadProbe, ReloadSite
from perfkata.bench.sourceline import SourceLine
from perfkata.bench.sqltext import example, verb, written_table

NOTE = "note"  # the metric of a diagnostic that is advice, not the reason a check failed
# Kinds of finding: what a correct solution never shows (tests/grader/test_*learners.py)
N_PLUS_ONE, REPEATED, ROW_BY_ROW, COLUMN_RELOAD = "n+1", "repeated", "row-by-row", "reload"
CARTESIAN, TRIED = "cartesian", "tried"
FINDINGS = frozenset({N_PLUS_ONE, REPEATED, ROW_BY_ROW, COLUMN_RELOAD, CARTESIAN, TRIED})


@dataclass(frozen=True)
class Diagnostic:
    metric: str
    message: str
    file: str | None = None
    line: int | None = None
    count: int = 0
    kind: str = ""  # one of FINDINGS, or "" for a kata's own note

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnostic:
        return cls(**data)


def lazy_load_diagnostics(probe: LazyLoadProbe) -> list[Diagnostic]:
    found = []
    for site, count in probe.sites.most_common():
        file, line = (site.where.file, site.where.line) if site.where else (None, None)
        found.append(
            Diagnostic("lazy_loads", n_plus_one(site, count), file, line, count, N_PLUS_ONE)
        )
    return found


def n_plus_one(site: LazyLoadSite, count: int) -> str:
    """The relationship, the count, the line that read it, the line whose query loaded
    the parents (where the option goes), the fix as code for that query, and the SQL
    each load ran."""
    where = f" at {site.where.short()}" if site.where else ""
    option = site.suggested_option()
    message = (
        f"N+1: {site.relationship} lazily loaded {count} times{where} — add .options({option})"
    )
    if site.parents_at is not None:
        root, at = site.path[0].owner, site.parents_at
        written, code = fixed_code(at, root, option)
        place = "" if written in (None, at.line) else f" (built at line {written})"
        message += f" to the {root} query at {at.short()}{place}, which loaded them: {code}"
    if site.sql:
        message += f"; each load ran {site.sql}"
    return message


def fixed_code(where: SourceLine, entity: str, option: str) -> tuple[int | None, str]:
    """The learner's own line with the option added after `select(Entity)`: the line
    that ran the query, or — for a statement built beforehand — the nearest line above
    it in the same function that builds it. `select(Entity).options(…)` when none does."""
    pattern = re.compile(rf"\b(?:select|query)\(\s*{re.escape(entity)}\s*\)")
    for number in range(where.line, max(0, where.line - 40), -1):
        text = linecache.getline(where.file, number).strip()
        found = pattern.search(text)
        if found:
            return number, text[: found.end()] + f".options({option})" + text[found.end() :]
        if text.startswith(("def ", "async def ")):
            break
    return None, f"select({entity}).options({option})"


def eager_diagnostics(probe: UnusedEagerProbe) -> list[Diagnostic]:
    return [
        Diagnostic("unused_eager_loads", unused.message(), count=unused.loaded_objects)
        for unused in probe.unused()
    ]


def loader_notes(probe: UnusedEagerProbe) -> list[Diagnostic]:
    return [Diagnostic(NOTE, note.message()) for note in probe.cheaper_loaders()]


def bypass_diagnostics(probe: QueryProbe) -> list[Diagnostic]:
    """Statements sent to the driver around SQLAlchemy are counted all the same (the
    lines that sent many of them are named by statement_diagnostics)."""
    bypassed = probe.results()["bypassed_statements"]
    if not bypassed:
        return []
    return [
        Diagnostic(
            "statements",
            f"{bypassed} statements went to the database driver directly, around SQLAlchemy; "
            "they are counted all the same",
            count=bypassed,
        )
    ]


def python_time_diagnostic(
    probe: QueryProbe, lazy: LazyLoadProbe, at_least: int
) -> list[Diagnostic]:
    """Explains a missed speed-up when the queries are not the reason: no lazy load, no
    statement repeated per row, none around SQLAlchemy. The time is then in the code
    between the queries, and the profiler names the line."""
    looped = any(group.in_one_call >= at_least for group in probe.groups())
    looped = looped or bool(probe.results()["bypassed_statements"])
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
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def statement_diagnostics(
    probe: QueryProbe,
    at_least: int,
    sharper: set[tuple[str, int]],
    models: type[DeclarativeBase] | None = None,
    batches: str = "",
) -> list[Diagnostic]:
    """One finding per normalised statement and learner line that repeated within one
    call of the learner's: a write sent one row at a time (row-by-row), or any other
    statement in a loop — Core, text() or the raw driver alike. Lines a sharper finding
    already names (a lazy load, a column reload) are left to it."""
    found = []
    for group in probe.groups():
        # a write of one row per call is a loop at any size: a tenth of the reads' bar
        if group.where is None or group.in_one_call < max(10, at_least // 10):
            continue
        if (group.where.file, group.where.line) in sharper:
            continue
        row_by_row = row_by_row_write(group, models, batches)
        if row_by_row is None and group.in_one_call < at_least:
            continue
        found.append(
            Diagnostic(
                "statements",
                row_by_row or repeated_statement(group),
                group.where.file,
                group.where.line,
                group.in_one_call,
                ROW_BY_ROW if row_by_row else REPEATED,
            )
        )
    return found


def repeated_statement(group: StatementGroup) -> str:
    assert group.where is not None
    how = ", on the database driver directly" if group.bypassed else ""
    return (
        f"this {verb(group.text)} ran {group.in_one_call:,} times at {group.where.short()}"
        f"{how} ({example(group.text)}) — {in_a_loop(group.text)}"
    )


def row_by_row_write(
    group: StatementGroup, models: type[DeclarativeBase] | None, batches: str
) -> str | None:
    """A write that changed about one row per call (or one per executemany() parameter
    set), with the batched statement for its table and the kata's batch advice."""
    if not group.write or group.where is None:
        return None
    many = group.single_calls < group.count / 2
    if not many and (group.rows is None or group.rows >= 2 * max(1, group.single_calls)):
        return None  # batches already: a plain repeated statement, if anything
    what = verb(group.text)
    how = "through executemany(), once per parameter set" if many else "one row each"
    batch = batched_alternative(what, written_table(group.text), models)
    return (
        f"row-by-row {what}: this {what} ran {group.in_one_call:,} times at "
        f"{group.where.short()}, {how} ({example(group.text)}) — {what.lower()} a batch "
        f"of rows with one statement: {batch}{f', {batches}' if batches else ''}"
    )


def batched_alternative(what: str, table: str | None, models: type[DeclarativeBase] | None) -> str:
    """The one statement that changes a batch, written with the learner's model."""
    model = model_for(table, models) or "Model"
    if what == "DELETE":
        return f"session.execute(delete({model}).where({model}.id.in_(ids)))"
    if what == "UPDATE":
        return f"session.execute(update({model}).where({model}.id.in_(ids)).values(...))"
    return f"session.execute(insert({model}).values(rows))"


def model_for(table: str | None, models: type[DeclarativeBase] | None) -> str | None:
    if table is None or models is None:
        return None
    for mapper in models.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table:
            return str(mapper.class_.__name__)
    return None


def reload_diagnostics(probe: ColumnReloadProbe | None, at_least: int) -> list[Diagnostic]:
    """Expired or deferred columns loaded one object at a time, from one line."""
    if probe is None:
        return []
    found = []
    for site, count in sorted(probe.sites.items(), key=lambda kv: (-kv[1], kv[0].label())):
        if site.where is None or count < at_least:
            continue
        found.append(
            Diagnostic(
                "statements",
                column_reload(site, count),
                site.where.file,
                site.where.line,
                count,
                COLUMN_RELOAD,
            )
        )
    return found


def column_reload(site: ReloadSite, count: int) -> str:
    assert site.where is not None
    if site.deferred:
        why = "deferred"
        fix = (
            f"load them with the objects: .options(undefer({site.model}.{site.columns[0]})) "
            "on the query, or drop the defer()/load_only() that left them out"
        )
    else:
        why = "expired by commit()"
        fix = (
            "keep them loaded: Session(engine, expire_on_commit=False), or read what you "
            "need before commit(), or load the objects once after it in one query"
        )
    return (
        f"column reload: {site.label()} ({why}) reloaded one object at a time, {count} "
        f"times at {site.where.short()} — {fix}"
    )


# rows per object built above which a joined collection is multiplying rows: one joined
# collection fetches about one row per child it builds; two multiply each other
MULTIPLIED = 3


def joined_rows_diagnostics(probe: JoinedRowsProbe | None, at_least: int) -> list[Diagnostic]:
    """Queries whose joined collections fetched far more rows than objects they built."""
    if probe is None:
        return []
    found = []
    for query in probe.queries.values():
        extra = query.rows - query.objects
        if query.where is None or query.rows < MULTIPLIED * query.objects or extra < at_least:
            continue
        found.append(
            Diagnostic(
                "speedup",
                multiplied_rows(query),
                query.where.file,
                query.where.line,
                query.rows,
                CARTESIAN,
            )
        )
    return found


def multiplied_rows(query: JoinedQuery) -> str:
    assert query.where is not None
    joined = ", ".join(f"joinedload({c})" for c in query.collections)
    instead = ", ".join(f"selectinload({c})" for c in query.collections)
    return (
        f"joinedload multiplies rows: the {query.entity} query at {query.where.short()} "
        f"fetched {query.rows:,} rows to build {query.objects:,} objects ({joined}: each "
        f"parent's row comes back once per child, per combination of children) — use "
        f"{instead} instead: one IN query per collection, every row fetched once"
    )


def collect_diagnostics(
    queries: QueryProbe,
    lazy: LazyLoadProbe,
    eager: UnusedEagerProbe,
    size: int,
    reloads: ColumnReloadProbe | None = None,
    advice: Mapping[str, Any] | None = None,
    joined: JoinedRowsProbe | None = None,
) -> list[dict[str, Any]]:
    """Every finding of a counted run, sharpest first. `advice` is the kata's: its models
    (to name the batched statement's model) and the batch it asks for."""
    at_least = max(10, size // 10)
    lazy_found = lazy_load_diagnostics(lazy)
    reloaded = reload_diagnostics(reloads, at_least)
    sharper = {(d.file, d.line) for d in lazy_found + reloaded if d.file and d.line}
    advice = advice or {}
    repeated = statement_diagnostics(
        queries, at_least, sharper, advice.get("models"), advice.get("batches", "")
    )
    multiplied = joined_rows_diagnostics(joined, at_least)  # the time is in those rows
    every = (
        lazy_found
        + reloaded
        + eager_diagnostics(eager)
        + bypass_diagnostics(queries)
        + repeated
        + multiplied
        + ([] if multiplied else python_time_diagnostic(queries, lazy, at_least))
        + loader_notes(eager)
    )
    return [d.as_dict() for d in every]
