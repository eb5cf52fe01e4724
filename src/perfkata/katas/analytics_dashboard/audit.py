"""The parent's judgement of the statements a counted run sent (bench/probes/
statement_log.py), replayed on that run's own database after the worker replied, out of
the learner's reach: the rows each one returns, the plan of the refunds filter and of
each feed page (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL — each engine's own
word), and the rows a feed page reads to show its 20.

Only reads are replayed, on a read-only connection (SQLite opened read-only, PostgreSQL
in a READ ONLY transaction with a statement timeout), each with a work budget."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from perfkata.katas.analytics_dashboard.data import PAGE_SIZE
from perfkata.katas.analytics_dashboard.workload import FEED, WIDGETS

READS = re.compile(r"\s*(?:SELECT|WITH|\()", re.IGNORECASE)
OFFSET = re.compile(r"\bOFFSET\s+(\d+)", re.IGNORECASE)
LIMIT = re.compile(r"\bLIMIT\b", re.IGNORECASE)
ALIAS = re.compile(r"\borders\s+(?:AS\s+)?(\w+)", re.IGNORECASE)
# literals in the driver's expanded SQL, to bind again as the learner's statement did
LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
NOT_ALIASES = frozenset(
    {"where", "join", "left", "inner", "on", "group", "order", "limit", "union"}
)
REPLAYED_PER_PHASE = 300  # a per-row loop's first 300 stand for the rest
SQLITE_BUDGET = 200_000  # progress callbacks (of 100 VM instructions) per statement


@dataclass
class Replayed:
    phase: str
    sql: str
    where: str
    rows: int = 0
    offset: int = 0
    full_scan: str | None = None  # the plan line that reads all of orders
    unnarrowed: str | None = None  # the plan line reading orders not narrowed by status+date
    unbounded: str | None = None  # a feed page's plan line walking orders from the newest
    visited: int = 0  # rows of orders the engine visited (PostgreSQL's EXPLAIN ANALYZE)
    failed: str | None = None  # why it could not be replayed (a temp table, the budget)


@dataclass
class Judged:
    counters: dict[str, float] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)


def audit(
    engine: Engine, log: list[list[str]], output: Any, size: int
) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """Counters (rows_fetched, filter_scans, feed_full_scans, feed_depth …) and the
    diagnostics that explain them, from the log of one counted run."""
    replayed, scale = replay(engine, log, size)
    judged = Judged()
    unreplayable(judged, replayed)
    rows_fetched(judged, replayed, scale, output if isinstance(output, dict) else {})
    filter_scans(judged, replayed)
    feed(judged, replayed)
    return judged.counters, judged.notes


def replay(
    engine: Engine, log: list[list[str]], size: int
) -> tuple[list[Replayed], dict[str, float]]:
    """Each read in the log, run again: rows counted, plans read where they are judged.
    Returns them and, per phase, how many logged statements each replayed one stands for."""
    per_phase: dict[str, int] = defaultdict(int)
    chosen: list[Replayed] = []
    for phase, sql, where in log:
        if not READS.match(sql):
            continue
        per_phase[phase] += 1
        if per_phase[phase] <= REPLAYED_PER_PHASE:
            chosen.append(Replayed(phase, sql, where))
    raw = engine.raw_connection()
    try:
        runner = SqliteRunner(raw) if engine.dialect.name == "sqlite" else PgRunner(raw)
        for statement in chosen:
            runner.replay(statement, size)
    finally:
        raw.rollback()
        raw.close()
    scale = {p: n / min(n, REPLAYED_PER_PHASE) for p, n in per_phase.items()}
    return chosen, scale


class Runner:
    """Replays one statement; one it cannot (a temporary table of the learner's
    connection, a statement over the work budget) counts as reading every order and as
    a full scan: what cannot be checked is never a pass."""

    def run(self, statement: Replayed) -> None:
        raise NotImplementedError

    def replay(self, statement: Replayed, size: int) -> None:
        try:
            self.run(statement)
        except Exception as exc:  # the driver's error, whichever driver
            statement.failed = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            statement.rows, statement.offset = size, 0
            statement.full_scan = statement.unnarrowed = "could not be replayed"
            self.recover()

    def recover(self) -> None:
        """After a failed statement: ready for the next one."""


class SqliteRunner(Runner):
    def __init__(self, raw: Any) -> None:
        self.conn = raw.driver_connection
        self.ticks = 0
        self.conn.set_progress_handler(self._tick, 100)

    def _tick(self) -> int:
        self.ticks += 1
        return 1 if self.ticks > SQLITE_BUDGET else 0  # non-zero interrupts the statement

    def run(self, statement: Replayed) -> None:
        self.ticks = 0
        if statement.phase == "refunds" or is_page(statement.phase):
            details = [row[3] for row in self.conn.execute("EXPLAIN QUERY PLAN " + statement.sql)]
            names = orders_names(statement.sql)
            statement.full_scan = sqlite_full_scan(details, names)
            statement.unnarrowed = sqlite_unnarrowed(details, names)
            if is_page(statement.phase):
                statement.unbounded = sqlite_unbounded(
                    self.bound_plan(statement.sql, details), names
                )
        cursor = self.conn.execute(statement.sql)
        while batch := cursor.fetchmany(1000):
            statement.rows += len(batch)
        statement.offset = offset_of(statement.sql)

    def bound_plan(self, sql: str, literal: list[str]) -> list[str]:
        """The plan of the statement with its values bound as `?`s, as the learner's code
        sent it; the literal one when that cannot be prepared (a `?` left in the text)."""
        bound, values = parametrised(sql)
        try:
            return [row[3] for row in self.conn.execute("EXPLAIN QUERY PLAN " + bound, values)]
        except Exception:  # the driver's error: plan what was logged
            return literal


class PgRunner(Runner):
    def __init__(self, raw: Any) -> None:
        self.cursor = raw.driver_connection.cursor()
        self.cursor.execute("SET TRANSACTION READ ONLY")
        self.cursor.execute("SET LOCAL statement_timeout = 10000")

    def replay(self, statement: Replayed, size: int) -> None:
        self.cursor.execute("SAVEPOINT replay")  # a failed statement aborts only itself
        super().replay(statement, size)

    def recover(self) -> None:
        self.cursor.execute("ROLLBACK TO SAVEPOINT replay")

    def run(self, statement: Replayed) -> None:
        if statement.phase == "refunds" or is_page(statement.phase):
            self.cursor.execute("EXPLAIN (FORMAT JSON) " + statement.sql)
            plan = self.cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            statement.full_scan = pg_full_scan(plan[0]["Plan"])
            statement.unnarrowed = pg_unnarrowed(plan[0]["Plan"])
        if is_page(statement.phase):
            self.cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql)
            analyzed = self.cursor.fetchone()[0]
            analyzed = json.loads(analyzed) if isinstance(analyzed, str) else analyzed
            statement.visited = pg_visited(analyzed[0]["Plan"])
            statement.unbounded = pg_unbounded(analyzed[0]["Plan"])
        self.cursor.execute(statement.sql)
        while batch := self.cursor.fetchmany(1000):
            statement.rows += len(batch)
        statement.offset = offset_of(statement.sql)


def parametrised(sql: str) -> tuple[str, list[Any]]:
    """The expanded SQL the driver logged, its literals made parameters again. SQLite
    plans a statement by what it knows when it prepares it: with `created_at < '…' OR
    (created_at = '…' AND id < 5)` inlined it sees one constant and seeks a range, but the
    learner's code bound `?`s and got a scan of the whole index up to the cursor."""
    values: list[Any] = []

    def bind(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            values.append(text[1:-1].replace("''", "'"))
        else:
            values.append(float(text) if "." in text else int(text))
        return "?"

    return LITERAL.sub(bind, sql), values


def orders_names(sql: str) -> set[str]:
    """`orders` and the aliases the statement gives it (SQLite's plan names the alias)."""
    aliases = {m.lower() for m in ALIAS.findall(sql)} - NOT_ALIASES
    return {"orders", *aliases}


def sqlite_full_scan(details: list[str], names: set[str]) -> str | None:
    """A `SCAN orders` line with no index: every row read (an index-ordered SCAN stops at
    its LIMIT; a SEARCH reads only the matching range)."""
    for detail in details:
        words = detail.split()
        scan = len(words) >= 2 and words[0] == "SCAN" and words[1].lower() in names
        if scan and "INDEX" not in detail:
            return detail
    return None


def sqlite_unnarrowed(details: list[str], names: set[str]) -> str | None:
    """A line reading orders without both `status=?` and a created_at range in its index
    search: a SCAN, a SEARCH on created_at alone (every order of the week, refunded or
    not), or on status alone (every refunded order the shop ever had)."""
    for detail in details:
        words = detail.split()
        reads = len(words) >= 2 and words[0] in ("SCAN", "SEARCH") and words[1].lower() in names
        if reads and not ("status=" in detail and "created_at" in detail):
            return detail
    return None


def sqlite_unbounded(details: list[str], names: set[str]) -> str | None:
    """A `SCAN orders USING INDEX …` line: the index walked from its first entry, with no
    range to seek to. Under a LIMIT it stops after the page, but only after visiting every
    row before the cursor: a seek written as a bare OR (created_at < :c OR (created_at =
    :c AND id < :i)) plans like this, and costs more per page deeper than OFFSET."""
    for detail in details:
        words = detail.split()
        scan = len(words) >= 2 and words[0] == "SCAN" and words[1].lower() in names
        if scan and "INDEX" in detail:
            return detail
    return None


def pg_unnarrowed(node: dict[str, Any]) -> str | None:
    """A node reading orders whose index condition does not compare both status and
    created_at (a Seq Scan, a range on created_at alone, or every refunded order)."""
    if node.get("Relation Name") == "orders":
        kind = node.get("Node Type", "")
        condition = node.get("Index Cond") or node.get("Recheck Cond") or ""
        if kind == "Seq Scan" or "status" not in condition or "created_at" not in condition:
            index = f" using {node['Index Name']}" if node.get("Index Name") else ""
            shown = f" ({condition})" if condition else ""
            return f"{kind} on orders{index}{shown}"
    for child in node.get("Plans", ()):
        found = pg_unnarrowed(child)
        if found:
            return found
    return None


def pg_visited(node: dict[str, Any]) -> int:
    """Rows of orders the executor visited walking an index (EXPLAIN ANALYZE): those each
    index scan passed on plus those its filter threw away, times its loops — what a page
    costs under its LIMIT, whatever shape its WHERE has. (A Seq Scan reads the table
    whatever the depth: the full-scan check names it.)"""
    visited = 0
    walks = node.get("Node Type") in ("Index Scan", "Index Only Scan")
    if walks and node.get("Relation Name") == "orders":
        per_loop = (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        visited += int(per_loop * max(node.get("Actual Loops", 1), 1))
    return visited + sum(pg_visited(child) for child in node.get("Plans", ()))


def pg_unbounded(node: dict[str, Any]) -> str | None:
    """An index scan of orders with no Index Cond, its seek left to a Filter: it walks the
    index from its first entry (PostgreSQL's word for SQLite's `SCAN … USING INDEX`)."""
    walks = node.get("Node Type") in ("Index Scan", "Index Only Scan")
    if walks and node.get("Relation Name") == "orders" and not node.get("Index Cond"):
        direction = " Backward" if node.get("Scan Direction") == "Backward" else ""
        return f"{node['Node Type']}{direction} using {node.get('Index Name')} on orders"
    for child in node.get("Plans", ()):
        found = pg_unbounded(child)
        if found:
            return found
    return None


def pg_full_scan(node: dict[str, Any]) -> str | None:
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "orders":
        return "Seq Scan on orders"
    for child in node.get("Plans", ()):
        found = pg_full_scan(child)
        if found:
            return found
    return None


def offset_of(sql: str) -> int:
    found = OFFSET.findall(sql)
    return max((int(n) for n in found), default=0)


def rows_fetched(
    judged: Judged, replayed: list[Replayed], scale: dict[str, float], output: dict[str, Any]
) -> None:
    total = 0.0
    for phase in WIDGETS:
        rows = sum(s.rows for s in replayed if s.phase == phase) * scale.get(phase, 1.0)
        total += rows
        shown = len(output.get(phase) or ())
        if rows > max(4 * shown, shown + 100):
            first = next((s for s in replayed if s.phase == phase), None)
            at = f" at {first.where}" if first and first.where else ""
            judged.notes.append(
                ("rows_fetched", f"{phase} fetches {rows:,.0f} rows from the database to show "
                 f"{shown}{at} — let the database filter and aggregate, and fetch only the "
                 "answer")
            )  # fmt: skip
    judged.counters["rows_fetched"] = round(total)


def unreplayable(judged: Judged, replayed: list[Replayed]) -> None:
    failed = [s for s in replayed if s.failed]
    judged.counters["unreplayable_statements"] = len(failed)
    if failed:
        first = failed[0]
        judged.notes.append(
            ("rows_fetched", f"perfkata could not replay {len(failed)} of your statements "
             f"({first.failed}{at_line(first.where)}), so each counts as reading every "
             "order: query the kata's tables themselves, within the work one page needs")
        )  # fmt: skip


def filter_scans(judged: Judged, replayed: list[Replayed]) -> None:
    """The refunds' statements whose plan reads orders without narrowing them by status
    and date: a full scan, a search on created_at alone (every order of the week), or on
    status alone (every refund ever, growing with the shop's history, then sorted)."""
    bad = [s for s in replayed if s.phase == "refunds" and s.unnarrowed]
    if not any(s.phase == "refunds" for s in replayed):
        # answered from rows another widget read: its plan is the one that served it
        judged.counters["filter_scans"] = 1
        judged.notes.append(
            ("filter_scans", "refunds() ran no query of its own — filter the orders in its "
             "own SELECT, where the index can serve it")
        )  # fmt: skip
        return
    judged.counters["filter_scans"] = len(bad)
    if not bad:
        return
    first = bad[0]
    if first.full_scan:
        message = (
            f"orders filtered by status scan the whole table (plan: {first.full_scan}"
            f"{at_line(first.where)}) — add an index on (status, created_at)"
        )
    elif "status" in (first.unnarrowed or ""):
        message = (
            f"the refunds filter reads every refunded order the shop ever had, not only "
            f"those since `since`, and sorts them (plan: {first.unnarrowed}"
            f"{at_line(first.where)}) — put the range column after status in the index: "
            "(status, created_at)"
        )
    else:
        message = (
            f"the refunds filter reads every order in the date range, refunded or not "
            f"(plan: {first.unnarrowed}{at_line(first.where)}) — lead the index with the "
            "column compared with =: (status, created_at)"
        )
    judged.notes.append(("filter_scans", message))


def feed(judged: Judged, replayed: list[Replayed]) -> None:
    """Rows read per page (page_costs): fitted against the page's depth, and the most any
    page read beyond the rows it shows; and the pages whose plan reads all of orders."""
    pages = page_costs(replayed)
    slope = 0.0
    full = pages[:-1]  # the last page may be short: fitted over the others
    if len(full) >= 3:
        slope = statistics.linear_regression(range(len(full)), [p.read for p in full]).slope
    judged.counters["feed_depth"] = round(slope, 2)
    excess = [page.read - PAGE_SIZE for page in pages]
    judged.counters["feed_excess_rows"] = max(excess, default=0)
    if slope > 1:  # the deepest of the pages that read most
        number, last = max(enumerate(pages, 1), key=lambda item: (item[1].read, item[0]))
        cause = (
            f" — its plan walks orders from the newest one and drops every row before the "
            f"cursor ({last.unbounded}): make the seek a range the index can start from, "
            "WHERE (created_at, id) < (:last_created_at, :last_id), or created_at <= "
            ":last_created_at AND (created_at < :last_created_at OR id < :last_id)"
            if last.unbounded
            else " — paginate by key: WHERE (created_at, id) < (:last_created_at, :last_id) "
            "ORDER BY created_at DESC, id DESC LIMIT …"
        )
        judged.notes.append(
            ("feed_depth", f"page {number} reads {last.read:,} rows to show {PAGE_SIZE}"
             f"{at_line(last.where)}{cause}")
        )  # fmt: skip
    elif excess and max(excess) > PAGE_SIZE:
        worst = excess.index(max(excess))
        page = pages[worst]
        judged.notes.append(
            ("feed_excess_rows", f"page {worst + 1} fetches {page.read:,} rows to show "
             f"{PAGE_SIZE}{at_line(page.where)} — ask the database for one page: "
             f"LIMIT {PAGE_SIZE + 1} after the cursor")
        )  # fmt: skip
    scans = [s for s in replayed if is_page(s.phase) and s.full_scan]
    judged.counters["feed_full_scans"] = len(scans)
    if scans:
        judged.notes.append(
            ("feed_full_scans", f"{len(scans)} feed pages read the whole orders table to show "
             f"{PAGE_SIZE} rows (plan: {scans[0].full_scan}{at_line(scans[0].where)}) — add "
             "an index that matches the feed's order, (created_at, id)")
        )  # fmt: skip


def at_line(where: str) -> str:
    return f" at {where}" if where else ""


def is_page(phase: str) -> bool:
    return phase.startswith(FEED + ":")


@dataclass
class PageCost:
    read: int  # rows of orders the page's statements read
    where: str  # the learner's line
    unbounded: str | None  # the plan line that walked orders from the newest, if any


def page_costs(replayed: list[Replayed]) -> list[PageCost]:
    """Rows read per feed page, in page order: per statement, the most of
    - the rows it returned plus those an OFFSET made the database skip;
    - on SQLite, when its plan walks an index from the start (no range to seek to) under a
      LIMIT, every row before the cursor too: the pages before it (20 rows each, as the
      gate checked) plus its own page and look-ahead;
    - on PostgreSQL, the rows its index scans visited (EXPLAIN ANALYZE), filtered out or
      not."""
    pages: dict[int, list[Replayed]] = {}
    for statement in replayed:
        if is_page(statement.phase):
            pages.setdefault(page_number(statement.phase), []).append(statement)
    costs = []
    for number, group in sorted(pages.items()):
        walked = [s for s in group if walks_to_cursor(s)]
        before = (number - 1) * PAGE_SIZE
        read = sum(
            max(
                s.rows + s.offset,
                s.visited,
                before + min(s.rows, PAGE_SIZE + 1) if s in walked else 0,
            )
            for s in group
        )
        unbounded = next((s.unbounded for s in walked), None)
        costs.append(PageCost(read, group[0].where, unbounded))
    return costs


def walks_to_cursor(statement: Replayed) -> bool:
    """A page's statement that walks the index from the newest order under a LIMIT
    without an OFFSET (that one is counted as such): it reads up to the cursor, then its
    page. A statement without a LIMIT (a count, a whole-table fetch) reads what it returns
    or every row, whatever the depth."""
    return bool(statement.unbounded) and not statement.offset and bool(LIMIT.search(statement.sql))


def page_number(phase: str) -> int:
    return int(phase.rpartition(":")[2])
