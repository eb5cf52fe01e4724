"""The Bullet part: every lazy relationship load, by relationship path and learner line.

`do_orm_execute` fires for each ORM statement; a lazy load is a relationship load with
`lazy_loaded_from` set, and `loader_strategy_path` holds the chain of relationships that
led to it (Post.comments -> Comment.author), which gives the chained option to suggest.
Many-to-one loads answered from the identity map emit no SQL and are rightly not counted.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, ORMExecuteState, RelationshipProperty, Session
from sqlalchemy.orm.interfaces import MANYTOONE

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


def relationship_props(state: ORMExecuteState) -> list[RelationshipProperty[Any]]:
    path = state.loader_strategy_path
    return [
        p for p in (path.path if path is not None else ()) if isinstance(p, RelationshipProperty)
    ]


def as_steps(props: list[RelationshipProperty[Any]]) -> tuple[RelationshipStep, ...]:
    return tuple(
        RelationshipStep(p.parent.class_.__name__, p.key, p.direction is MANYTOONE) for p in props
    )


def relationship_path(state: ORMExecuteState) -> tuple[RelationshipStep, ...]:
    return as_steps(relationship_props(state))


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


class LazyLoadProbe(Probe):
    name = "lazy_loads"

    def __init__(self) -> None:
        self.sites: Counter[LazyLoadSite] = Counter()
        self._ctx: ProbeContext | None = None
        self._root: Mapper[Any] | None = None  # the entity of the first top-level query

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(Session, "do_orm_execute", self._on_execute)

    def after(self, ctx: ProbeContext) -> None:
        event.remove(Session, "do_orm_execute", self._on_execute)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not state.is_relationship_load:
            if self._root is None and state.is_select and state.bind_mapper is not None:
                self._root = state.bind_mapper
            return
        props = relationship_props(state)
        if state.lazy_loaded_from is None or not props or self._ctx is None:
            return
        if self._root is not None and props[0].parent is not self._root:
            props = path_from(self._root, props[0].parent) + props
        where = self._ctx.learner_files.innermost_in_stack()
        self.sites[LazyLoadSite(as_steps(props), where)] += 1

    def by_relationship(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for site, count in self.sites.items():
            totals[site.relationship] += count
        return totals

    def results(self) -> dict[str, Any]:
        return {"lazy_loads": sum(self.sites.values())}
