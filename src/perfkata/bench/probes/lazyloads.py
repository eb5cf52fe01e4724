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

import weakref
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from types import CodeType
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, ORMExecuteState, RelationshipProperty, Session
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.orm.state import InstanceState

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.sourceline import SourceLine


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

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(Session, "do_orm_execute", self._on_execute)

    def after(self, ctx: ProbeContext) -> None:
        event.remove(Session, "do_orm_execute", self._on_execute)

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
        if state.lazy_loaded_from is None:
            mapper = None if state.is_relationship_load else state.bind_mapper
            if mapper is not None and state.session not in self._roots:
                self._roots[state.session] = mapper
            return
        if self._ctx is None:
            return
        if self.loaded_alone(state.lazy_loaded_from):
            self.alone += 1
            return
        chain = self._chain(state.loader_strategy_path, self._roots.get(state.session))
        if not chain:
            return
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
            for code, lines in by_code.items():
                for line, count in lines.items():
                    where = SourceLine(code.co_filename, line, code.co_name) if code else None
                    found[LazyLoadSite(steps, where)] += count
        return found

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
