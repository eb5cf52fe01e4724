"""Unused eager loading: a relationship loaded for some objects and read for none.

SQLAlchemy has no "attribute read" event, so while this probe runs each relationship
descriptor of the models is switched to a subclass whose `__get__` counts instance reads,
and switched back afterwards: zero cost outside the probe, and it is never on while timing.
A relationship value present in an object's `__dict__` was loaded; lazy loads only happen
on reads, so "loaded but never read" can only be an eager load that nobody used.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, RelationshipProperty, Session
from sqlalchemy.orm.attributes import InstrumentedAttribute

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.probes.lazyloads import relationship_path

_reads: Counter[tuple[type, str]] | None = None  # the active probe's counter


class _ReadCountingAttribute(InstrumentedAttribute[Any]):
    __slots__ = ()

    def __get__(self, instance: object | None, owner: Any) -> Any:
        if instance is not None and _reads is not None:
            _reads[(self.class_, self.key)] += 1  # type: ignore[index]
        return super().__get__(instance, owner)


@dataclass(frozen=True)
class UnusedEagerLoad:
    relationship: str
    loaded_objects: int
    loader: str  # "selectinload" when a separate query was seen, else "joinedload"

    def message(self) -> str:
        return (
            f"AVOID eager loading: {self.relationship} is loaded but never used — "
            f"remove {self.loader}({self.relationship})"
        )


class UnusedEagerProbe(Probe):
    name = "unused_eager"

    def __init__(self) -> None:
        self.reads: Counter[tuple[type, str]] = Counter()
        self.loaded: Counter[tuple[type, str]] = Counter()
        self.separately_loaded: set[str] = set()
        self._instances: list[Any] = []
        self._swapped: list[InstrumentedAttribute[Any]] = []

    def before(self, ctx: ProbeContext) -> None:
        global _reads
        _reads = self.reads
        for mapper in ctx.model_base.registry.mappers:
            for prop in mapper.relationships:
                attr = mapper.class_.__dict__.get(prop.key)
                if type(attr) is InstrumentedAttribute:
                    attr.__class__ = _ReadCountingAttribute
                    self._swapped.append(attr)
        event.listen(ctx.model_base, "load", self._on_load, propagate=True)
        event.listen(Session, "do_orm_execute", self._on_execute)

    def after(self, ctx: ProbeContext) -> None:
        global _reads
        _reads = None
        for attr in self._swapped:
            attr.__class__ = InstrumentedAttribute
        self._swapped.clear()
        event.remove(ctx.model_base, "load", self._on_load)
        event.remove(Session, "do_orm_execute", self._on_execute)
        self._count_loaded(ctx)

    def _on_load(self, target: Any, context: Any) -> None:
        self._instances.append(target)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if state.is_relationship_load and state.lazy_loaded_from is None:
            steps = relationship_path(state)
            if steps:
                self.separately_loaded.add(steps[-1].label)

    def _count_loaded(self, ctx: ProbeContext) -> None:
        relationships: dict[type, list[RelationshipProperty[Any]]] = {
            m.class_: list(m.relationships) for m in ctx.model_base.registry.mappers
        }
        for obj in self._instances:
            for prop in relationships.get(type(obj), ()):
                if prop.key in obj.__dict__:
                    self.loaded[(type(obj), prop.key)] += 1
        self._instances.clear()

    def unused(self) -> list[UnusedEagerLoad]:
        found = []
        for (cls, key), count in sorted(self.loaded.items(), key=lambda kv: kv[0][1]):
            if self.reads[(cls, key)] == 0:
                label = f"{cls.__name__}.{key}"
                loader = "selectinload" if label in self.separately_loaded else "joinedload"
                found.append(UnusedEagerLoad(label, count, loader))
        return found

    def results(self) -> dict[str, Any]:
        return {"unused_eager_loads": len(self.unused())}
