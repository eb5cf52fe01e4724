"""The Bullet part: every lazy relationship load, by relationship path and learner line.

`do_orm_execute` fires for each ORM statement; a lazy load is a relationship load with
`lazy_loaded_from` set, and `loader_strategy_path` holds the chain of relationships that
led to it (Post.comments -> Comment.author), which gives the chained option to suggest.
Many-to-one loads answered from the identity map emit no SQL and are rightly not counted.

Bullet's single-record rule: an object that cannot be part of an N+1 is never counted —
one loaded alone (`Session.get`, `.one()`, `.first()` after `limit(1)`, a result of one
row, a refresh after `commit()` expired it) or one the learner created and never loaded.
It stays so when a later multi-row query returns it again (the identity map hands back the
same object without loading it). Objects loaded through a relationship are not exempt: a
post's single comment is still one link of the chain `post.comments -> comment.author`.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from types import CodeType
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, ORMExecuteState, RelationshipProperty, Session
from sqlalchemy.orm import loading as orm_loading
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.orm.state import InstanceState

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.sourceline import SourceLine
from perfkata.bench.sqltext import example


@dataclass(frozen=True)
class RelationshipStep:
    owner: str  # "Post"
    key: str  # "comments"
    many_to_one: bool

    @property
    def label(self) -> str:
        return f"{self.owner}.{self.key}"

    @property
    def loader(self) -> str:
        # joinedload adds a JOIN for one row per parent; collections multiply rows, so
        # selectinload (one IN query per 500 parents) is the safer default for them.
        return "joinedload" if self.many_to_one else "selectinload"


@dataclass(frozen=True)
class LazyLoadSite:
    path: tuple[RelationshipStep, ...]
    where: SourceLine | None
    # where the objects whose relationship was read were loaded: the query to fix
    parents_at: SourceLine | None = None
    sql: str = ""  # one of the loads' statements, normalised, parameters elided

    @property
    def relationship(self) -> str:
        return self.path[-1].label

    def suggested_option(self) -> str:
        first, *rest = self.path
        option = f"{first.loader}({first.label})"
        for step in rest:
            option += f".{step.loader}({step.label})"
        return option


def relationship_props(path: Any) -> list[RelationshipProperty[Any]]:
    """The relationships along a loader strategy path (a PathRegistry, or None)."""
    return [
        p for p in (path.path if path is not None else ()) if isinstance(p, RelationshipProperty)
    ]


def as_steps(props: list[RelationshipProperty[Any]]) -> tuple[RelationshipStep, ...]:
    return tuple(
        RelationshipStep(p.parent.class_.__name__, p.key, p.direction is MANYTOONE) for p in props
    )


def relationship_path(state: ORMExecuteState) -> tuple[RelationshipStep, ...]:
    return as_steps(relationship_props(state.loader_strategy_path))


def path_from(root: Mapper[Any], target: Mapper[Any]) -> list[RelationshipProperty[Any]]:
    """Shortest chain of relationships from the queried entity to `target` (breadth first).

    A lazy load's own path starts at the object it was loaded from; when that object was
    itself lazily loaded (post.comments, then comment.author) the path is cut short, so
    the chain from the entity the learner queried is rebuilt from the mappings.
    """
    queue: deque[tuple[Mapper[Any], list[RelationshipProperty[Any]]]] = deque([(root, [])])
    seen = {root}
    while queue:
        mapper, chain = queue.popleft()
        if mapper is target:
            return chain
        for prop in mapper.relationships:
            if prop.mapper not in seen:
                seen.add(prop.mapper)
                queue.append((prop.mapper, [*chain, prop]))
    return []


def _only_one_in_run(state: InstanceState[Any]) -> bool:
    session = state.session
    if session is None:
        return True
    found = 0
    for other in session.identity_map.all_states():
        if other.runid == state.runid and other.class_ is state.class_:
            found += 1
            if found > 1:
                return False
    return True


class LazyLoadProbe(Probe):
    """Runs inside every ORM statement of an N+1 loop, so its hot path builds next to nothing:
    loads are counted per (relationship path, code object, line) in nested dicts, and the
    named steps and source lines are built once per distinct site, when results are read."""

    name = "lazy_loads"

    def __init__(self) -> None:
        # chain of relationships -> learner code object (None: no learner frame) -> line
        self._counts: defaultdict[tuple[Any, ...], defaultdict[CodeType | None, Counter[int]]]
        self._counts = defaultdict(lambda: defaultdict(Counter))
        # SQLAlchemy's path registries are interned (hashed by id): one entry per path
        self._chains: dict[tuple[Any, Any], tuple[RelationshipProperty[Any], ...]] = {}
        self._ctx: ProbeContext | None = None
        # per session, the entity of its first top-level query: a workload of several
        # requests (analytics-dashboard's widgets) opens a session for each, and a chain
        # is rebuilt from what that request queried, not from the run's first query
        self._roots: weakref.WeakKeyDictionary[Session, Mapper[Any]] = weakref.WeakKeyDictionary()
        # load run (SQLAlchemy's runid) -> whether it loaded one object of its class alone;
        # settled at the first lazy load from that run (a scan of the identity map), so a
        # solution without lazy loads pays nothing, and no listener runs per loaded row
        self._alone_runs: dict[int, bool] = {}
        self.alone = 0  # relationship reads on objects that cannot cause an N+1
        # Where parents were loaded. SQLAlchemy numbers each load run (`runid`, kept on
        # every object it loaded); the number drawn right after a top-level query's
        # do_orm_execute is that query's, so the learner's line there names it. A run
        # of lazy loads points at the run its parent came from.
        self._origin: dict[int, SourceLine | int] = {}
        self._pending = threading.local()
        self._parent_runs: defaultdict[tuple[Any, ...], Counter[int]] = defaultdict(Counter)
        self._sql: dict[tuple[Any, ...], str] = {}
        self._new_runid: Any = None

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(Session, "do_orm_execute", self._on_execute)
        self._new_runid = getattr(orm_loading, "_new_runid", None)
        if self._new_runid is not None:
            orm_loading._new_runid = self._numbered

    def after(self, ctx: ProbeContext) -> None:
        event.remove(Session, "do_orm_execute", self._on_execute)
        if self._new_runid is not None:
            orm_loading._new_runid = self._new_runid
            self._new_runid = None

    def _numbered(self) -> int:
        """SQLAlchemy's run number, noted against the query just announced (once per
        query, not per row)."""
        runid: int = self._new_runid()
        origin = getattr(self._pending, "origin", None)
        if origin is not None:
            self._origin[runid] = origin
            self._pending.origin = None
        return runid

    def _announce(self, state: ORMExecuteState) -> None:
        """Which line's query the next run number belongs to (entity queries only: a
        text() or Core statement draws none, and must not claim the next one)."""
        if state.bind_mapper is None or self._ctx is None:
            self._pending.origin = None
            return
        frame = self._ctx.learner_files.innermost_frame()
        self._pending.origin = self._pending.top = (
            SourceLine(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
            if frame is not None
            else None
        )

    def parents_at(self, runid: int | None) -> SourceLine | None:
        """The learner's line of the query that began the chain of loads `runid` is in."""
        seen = 0
        origin: SourceLine | int | None = runid
        while isinstance(origin, int) and seen < 50:
            origin, seen = self._origin.get(origin), seen + 1
        return origin if isinstance(origin, SourceLine) else None

    def loaded_alone(self, parent: InstanceState[Any]) -> bool:
        """Bullet's "impossible object": never loaded by a query (created by the learner),
        or the only object of its class that the query which last loaded it returned."""
        runid = parent.runid
        if runid is None:
            return True
        if len(parent.load_path) > 1:
            return False  # loaded through a relationship: one link of a chain of loads
        alone = self._alone_runs.get(runid)
        if alone is None:
            alone = self._alone_runs[runid] = _only_one_in_run(parent)
        return alone

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not state.is_select:  # an UPDATE/DELETE has no load options to read
            return
        # lazy_loaded_from is the cheapest attribute here: read first, it settles most calls
        parent = state.lazy_loaded_from
        if parent is None:
            if state.is_relationship_load:  # selectinload's query: its parent query's rows
                self._pending.origin = getattr(self._pending, "top", None)
            else:
                self._announce(state)
                mapper = state.bind_mapper
                if mapper is not None and state.session not in self._roots:
                    self._roots[state.session] = mapper
            return
        self._pending.origin = parent.runid  # the objects this load brings, via their parent
        if self._ctx is None:
            return
        if self.loaded_alone(parent):
            self.alone += 1
            return
        chain = self._chain(state.loader_strategy_path, self._roots.get(state.session))
        if not chain:
            return
        if parent.runid is not None:
            self._parent_runs[chain][parent.runid] += 1
        if chain not in self._sql:
            self._sql[chain] = statement_text(state)
        frame = self._ctx.learner_files.innermost_frame()
        code, line = (frame.f_code, frame.f_lineno) if frame is not None else (None, 0)
        self._counts[chain][code][line] += 1

    def _chain(self, path: Any, root: Mapper[Any] | None) -> tuple[RelationshipProperty[Any], ...]:
        """The relationships from the queried entity to this load, memoised per path."""
        chain = self._chains.get((root, path))
        if chain is None:
            props = relationship_props(path)
            if props and root is not None and props[0].parent is not root:
                props = path_from(root, props[0].parent) + props
            chain = self._chains[root, path] = tuple(props)
        return chain

    @property
    def sites(self) -> Counter[LazyLoadSite]:
        found: Counter[LazyLoadSite] = Counter()
        for chain, by_code in self._counts.items():
            steps = as_steps(list(chain))
            parents, sql = self.parents_of(chain), self._sql.get(chain, "")
            for code, lines in by_code.items():
                for line, count in lines.items():
                    where = SourceLine(code.co_filename, line, code.co_name) if code else None
                    found[LazyLoadSite(steps, where, parents, sql)] += count
        return found

    def parents_of(self, chain: tuple[Any, ...]) -> SourceLine | None:
        """The line whose query loaded most of this chain's parents."""
        lines: Counter[SourceLine] = Counter()
        for runid, count in self._parent_runs[chain].items():
            found = self.parents_at(runid)
            if found is not None:
                lines[found] += count
        return lines.most_common(1)[0][0] if lines else None

    def fixes(self) -> list[LazyFix]:
        """Per line that loaded parents, the loader options that would have loaded what
        was then read lazily — for the grader to try (grader.worker.op_try_fix)."""
        by_line: dict[SourceLine, list[tuple[RelationshipProperty[Any], ...]]] = {}
        for chain in self._counts:
            parents = self.parents_of(chain)
            if parents is not None:
                by_line.setdefault(parents, []).append(chain)
        return [LazyFix(line, longest(chains)) for line, chains in sorted(by_line.items())]

    def by_relationship(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for site, count in self.sites.items():
            totals[site.relationship] += count
        return totals

    def results(self) -> dict[str, Any]:
        return {
            "lazy_loads": sum(
                sum(lines.values())
                for by_code in self._counts.values()
                for lines in by_code.values()
            )
        }


def longest(chains: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """The chains without those another one extends: selectinload(Post.comments) is
    already in selectinload(Post.comments).joinedload(Comment.author)."""
    kept = [c for c in chains if not any(o != c and o[: len(c)] == c for o in chains)]
    return tuple(sorted(kept, key=lambda c: [f"{p.parent.class_.__name__}.{p.key}" for p in c]))


def statement_text(state: ORMExecuteState) -> str:
    """One lazy load's SQL, compiled for the session's database, parameters elided."""
    try:
        dialect = state.session.get_bind().dialect
        statement: Any = state.statement
        return example(str(statement.compile(dialect=dialect)))
    except Exception:  # a statement that cannot compile alone: no example, no failure
        return ""


@dataclass(frozen=True)
class LazyFix:
    """The loader options for the query at `where`: one chain of relationships each."""

    where: SourceLine
    chains: tuple[tuple[RelationshipProperty[Any], ...], ...]

    def options(self) -> list[Any]:
        """The options themselves, built from the mapped attributes."""
        built = []
        for chain in self.chains:
            option: Any = None
            for prop in chain:
                attr = getattr(prop.parent.class_, prop.key)
                loader = "joinedload" if prop.direction is MANYTOONE else "selectinload"
                option = getattr(option, loader) if option is not None else _LOADERS[loader]
                option = option(attr)
            built.append(option)
        return built

    def written(self) -> str:
        """The options as the learner would write them."""
        return ", ".join(
            LazyLoadSite(as_steps(list(c)), None).suggested_option() for c in self.chains
        )

    def root(self) -> Mapper[Any]:
        return self.chains[0][0].parent


def _loaders() -> dict[str, Any]:
    from sqlalchemy.orm import joinedload, selectinload

    return {"joinedload": joinedload, "selectinload": selectinload}


_LOADERS = _loaders()
