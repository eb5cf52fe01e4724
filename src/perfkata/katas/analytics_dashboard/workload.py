"""How the grader drives the dashboard: each widget with a fresh session (one request
each), then a walk through the feed one page per request, every call in a phase of its
own so the statements, rows and ORM objects it cost are told apart — in the worker
(objects loaded, by the learner's line) and in the parent (bench/statement_log.py's
log, replayed there by katas/analytics_dashboard/audit.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from perfkata.bench.oracle import first_difference
from perfkata.bench.sourceline import LearnerFiles, SourceLine
from perfkata.katas.analytics_dashboard import data
from perfkata.katas.analytics_dashboard.models import Base
from perfkata.katas.base import RunEnv

WIDGETS = ("revenue_by_day", "top_products", "top_customers", "refunds")
FEED = "orders_feed"
# What to do instead of loading objects, per widget (the starter's loops, named).
AGGREGATE = {
    "revenue_by_day": "to sum them — aggregate in SQL (func.count, func.sum … "
    "group_by(func.date(Order.created_at)))",
    "top_products": "to add up quantities — sum in SQL (func.sum(OrderLine.quantity) … "
    "group_by(OrderLine.product_id)) and rank with row_number() over each category",
    "top_customers": "to total them — aggregate in SQL (join, func.sum(Order.total_cents) … "
    "group_by(Customer.id), order_by, limit(10))",
    "refunds": "— select only the rows and columns shown (select(Order.id, …))",
}
TIES = {
    "revenue_by_day": "days in ascending order",
    "top_products": "categories A–Z; within one, most units first, ties by product name",
    "top_customers": "most spent first, ties by customer name, then id",
    "refunds": "newest first, orders at the same time by id, highest first",
    "feed": "newest first, orders at the same time by id, highest first",
}


class ObjectWatcher:
    """ORM objects loaded per phase, with the learner's line of the first one: loading
    a table to count it in Python is the lesson's first anti-pattern."""

    def __init__(self, files: LearnerFiles) -> None:
        self.files, self.phase = files, ""
        self.counts: Counter[tuple[str, str]] = Counter()  # (phase, class) -> objects
        self.where: dict[str, SourceLine | None] = {}
        event.listen(Base, "load", self._loaded, propagate=True)

    def _loaded(self, target: Any, context: Any) -> None:
        self.counts[self.phase, type(target).__name__] += 1
        if self.phase not in self.where:
            self.where[self.phase] = self.files.innermost_in_stack()

    def total(self, phases: tuple[str, ...]) -> int:
        return sum(n for (phase, _), n in self.counts.items() if phase in phases)

    def close(self) -> None:
        event.remove(Base, "load", self._loaded)


def in_phase(env: RunEnv, watcher: ObjectWatcher, name: str, call: Callable[[Session], Any]) -> Any:
    """One request: a fresh session, the statements and objects it costs tagged `name`."""
    env.phase(name)
    watcher.phase = name
    with Session(env.engine) as session:
        return call(session)


def walk_feed(module: ModuleType, env: RunEnv, watcher: ObjectWatcher) -> tuple[list[Any], bool]:
    """Page after page, each cursor handed back as it was returned, until it is None or
    FEED_PAGES were walked; and whether the last page still handed back a cursor."""
    pages: list[Any] = []
    cursor = None
    for number in range(1, data.FEED_PAGES + 1):
        found = in_phase(
            env,
            watcher,
            f"{FEED}:{number}",
            lambda s: module.orders_feed(s, cursor),  # noqa: B023
        )
        rows, cursor = unpack(found)
        pages.append(rows)
        if cursor is None:
            break
    return pages, cursor is not None


def unpack(found: Any) -> tuple[Any, Any]:
    if not (isinstance(found, tuple | list) and len(found) == 2):
        return found, None  # not (rows, cursor): the gate says what was expected
    return found[0], found[1]


def run_dashboard(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    watcher = ObjectWatcher(LearnerFiles([str(module.__file__)]))
    try:
        output = {name: in_phase(env, watcher, name, widget_call(module, name)) for name in WIDGETS}
        output["feed"], output["feed_more"] = walk_feed(module, env, watcher)
    finally:
        watcher.close()
    env.phase("")
    env.record("orm_objects", watcher.total(WIDGETS))
    for message in object_notes(watcher, output):
        env.note("orm_objects", message)
    return output


def widget_call(module: ModuleType, name: str) -> Callable[[Session], Any]:
    if name == "refunds":
        return lambda session: module.refunds(session, data.SINCE)
    function = getattr(module, name)
    return lambda session: function(session)


def object_notes(watcher: ObjectWatcher, output: dict[str, Any]) -> list[str]:
    """'revenue_by_day loads 6,000 Order objects to sum them at dashboard.py:31 — …'
    for each widget that loaded many more objects than it shows."""
    notes = []
    for phase in WIDGETS:
        loaded = Counter({cls: n for (p, cls), n in watcher.counts.items() if p == phase})
        shown = len(output.get(phase) or ())
        if sum(loaded.values()) <= 2 * shown + 50:
            continue
        cls, count = loaded.most_common(1)[0]
        where = watcher.where.get(phase)
        at = f" at {where.short()}" if where else ""
        advice = AGGREGATE[phase]
        verb, _, rest = advice.partition(" — ")
        notes.append(
            f"{phase} loads {count:,} {cls} objects {verb}{at} — {rest}".replace("  ", " ")
        )
    return notes


def verify_dashboard(dataset: data.ShopData, output: Any) -> str | None:
    """The first widget (or feed page) that differs, and when the rows are right but in
    another order, the order the brief asks for."""
    if not isinstance(output, dict):
        return f"expected the widgets' outputs, got {type(output).__name__}"
    expected = data.expected(dataset)
    for widget in WIDGETS:
        found = output.get(widget)
        difference = first_difference(expected[widget], found, "the output")
        if difference:
            hint = order_hint(widget, expected[widget], found)
            return f"{widget}: {difference}{hint}{unindexed(dataset, hint)}"
    return feed_difference(expected["feed"], output.get("feed")) or end_difference(expected, output)


def end_difference(expected: dict[str, Any], output: dict[str, Any]) -> str | None:
    """The cursor the walk's last page handed back: None exactly when it holds the last
    order — also when that page is full (a page of exactly 20 rows, the last one)."""
    more, pages = output.get("feed_more"), len(expected["feed"])
    if more and not expected["feed_more"]:
        return (
            f"feed page {pages} holds the last order but returned a next cursor: return None "
            "as the next cursor from the page that holds the last order, even a full one "
            f"(ask for {data.PAGE_SIZE + 1} rows: the extra one says whether a next page exists)"
        )
    if expected["feed_more"] and not more:
        return f"feed page {pages} returned no next cursor, but more orders follow it"
    return None


def feed_difference(expected: list[Any], pages: Any) -> str | None:
    if not isinstance(pages, list):
        return "orders_feed must return (rows, next_cursor)"
    for number, (want, got) in enumerate(zip(expected, pages, strict=False), 1):
        difference = first_difference(want, got, "the page")
        if difference:
            last = (
                " (the last page)" if number == len(expected) and len(want) < data.PAGE_SIZE else ""
            )
            rows = [row for page in expected for row in page]
            seen = [
                row for page in pages[: len(expected)] if isinstance(page, list) for row in page
            ]
            hint = order_hint("feed", rows, seen)
            return f"feed page {number}{last}: {difference}{hint}"
    if len(pages) > len(expected):
        return (
            f"the feed gave {len(pages)} pages; expected {len(expected)}: return None as the "
            "next cursor from the page that holds the last order"
        )
    if len(pages) < len(expected):
        return f"the feed ended after {len(pages)} pages; expected {len(expected)}"
    return None


def unindexed(dataset: data.ShopData, hint: str) -> str:
    """Rows in another order at the size built without the learner's indexes: the order
    their index gave was never asked for by the ORDER BY."""
    if hint and len(dataset.orders) == data.UNINDEXED_SIZE:
        return (
            f"; at {data.UNINDEXED_SIZE} orders the tables are built without your indexes, "
            "so only your ORDER BY decides the order of rows that tie"
        )
    return ""


def order_hint(widget: str, expected: Any, found: Any) -> str:
    """When the same rows came back in another order: say which order is asked for."""
    try:
        same = sorted(map(repr, expected)) == sorted(map(repr, found))
    except TypeError:
        return ""
    return f" (the right rows in another order: {TIES[widget]})" if same and expected else ""
