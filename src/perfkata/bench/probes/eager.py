"""Eager loading as observed: which loader filled each relationship, which were never read,
and where another correct loader would have cost fewer round trips.

SQLAlchemy has no "attribute read" event, so while this probe runs each relationship
descriptor of the models is switched to a subclass whose `__get__` counts instance reads,
and switched back afterwards: zero cost outside the probe, and it is never on while timing.
A relationship value present in an object's `__dict__` was loaded; lazy loads only happen
on reads, so "loaded but never read" can only be a relationship filled ahead of time.

Which loader did it is read from what the learner wrote — the loader options of their
statements (`joinedload`, `selectinload`, `contains_eager` …) or the model's `lazy=` — and
the separate statements a loader ran are counted. A relationship filled from rows the
query fetched anyway (`contains_eager`) costs nothing and is never "unused eager loading"
(Bullet does not flag it either); one filled by no loader the learner wrote is not named.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, RelationshipProperty, Session
from sqlalchemy.orm.attributes import InstrumentedAttribute
from sqlalchemy.orm.interfaces import MANYTOONE

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.probes.lazyloads import relationship_props

_reads: Counter[tuple[type, str]] | None = None  # the active probe's counter

# loader strategy ("lazy" value) -> the option a learner writes for it
_OPTION_FOR = {
    "joined": "joinedload",
    "selectin": "selectinload",
    "subquery": "subqueryload",
    "immediate": "immediateload",
}
CONTAINS_EAGER = "contains_eager"


class _ReadCountingAttribute(InstrumentedAttribute[Any]):
    __slots__ = ()
    # Statements built while the probe runs keep using SQLAlchemy's compiled cache: the
    # subclass adds no state, so the parent's cache key describes it fully.
    inherit_cache = True

    def __get__(self, instance: object | None, owner: Any) -> Any:
        if instance is not None and _reads is not None:
            _reads[(self.class_, self.key)] += 1  # type: ignore[index]
        return super().__get__(instance, owner)


def label(prop: RelationshipProperty[Any]) -> str:
    """`Document.author`: named by the class that declares the relationship, as the
    lazy-load probe names it (inherited relationships share the declaring property)."""
    return f"{prop.parent.class_.__name__}.{prop.key}"


@dataclass(frozen=True)
class UnusedEagerLoad:
    relationship: str
    loaded_objects: int
    loader: str  # the option the learner wrote ("selectinload"), or the model's "lazy='…'"

    def message(self) -> str:
        undo = (
            f"set lazy='select' on {self.relationship}"
            if self.loader.startswith("lazy=")
            else f"remove {self.loader}({self.relationship})"
        )
        return f"AVOID eager loading: {self.relationship} is loaded but never used — {undo}"


class UnusedEagerProbe(Probe):
    name = "unused_eager"

    def __init__(self) -> None:
        self.reads: Counter[tuple[type, str]] = Counter()
        self.loaded: Counter[RelationshipProperty[Any]] = Counter()
        # relationship -> the loaders the learner's options asked for it
        self.requested: defaultdict[RelationshipProperty[Any], set[str]] = defaultdict(set)
        # relationship -> statements its loader ran apart from its parent's query
        self.separate: Counter[RelationshipProperty[Any]] = Counter()
        # relationship -> the chain of relationships that led to it (for advice)
        self.chains: dict[RelationshipProperty[Any], tuple[RelationshipProperty[Any], ...]] = {}
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
        self._count_loaded()

    def _on_load(self, target: Any, context: Any) -> None:
        self._instances.append(target)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not state.is_select or state.lazy_loaded_from is not None:
            return  # lazy loads are the lazy-load probe's
        if state.is_relationship_load:
            chain = tuple(relationship_props(state.loader_strategy_path))
            if chain:
                self.separate[chain[-1]] += 1
                self.chains.setdefault(chain[-1], chain)
            return
        for option in state.statement._with_options:
            self._read_option(option)

    def _read_option(self, option: Any) -> None:
        """Which loader an option asks for, per relationship: a loader option's elements
        carry a path (Post.comments -> Comment.author) and a strategy ("lazy": "joined")."""
        for element in getattr(option, "context", ()):
            chain = relationship_props(getattr(element, "path", None))
            lazy = dict(getattr(element, "strategy", None) or ()).get("lazy")
            if not chain or lazy is None:
                continue
            if lazy == "joined" and "eager_from_alias" in element.local_opts:
                self.requested[chain[-1]].add(CONTAINS_EAGER)
            elif lazy in _OPTION_FOR:
                self.requested[chain[-1]].add(_OPTION_FOR[lazy])
            self.chains.setdefault(chain[-1], tuple(chain))

    def _count_loaded(self) -> None:
        by_class: dict[type, list[RelationshipProperty[Any]]] = {}
        for obj in self._instances:
            props = by_class.get(type(obj))
            if props is None:
                props = by_class[type(obj)] = list(inspect(type(obj)).relationships)
            for prop in props:
                if prop.key in obj.__dict__:
                    self.loaded[prop] += 1
        self._instances.clear()

    def loader_of(self, prop: RelationshipProperty[Any]) -> str | None:
        """The loader the learner wrote for this relationship, if any: an option first,
        then an eager `lazy=` on the model; None when nothing they wrote loads it."""
        asked = self.requested.get(prop)
        if asked:
            return CONTAINS_EAGER if CONTAINS_EAGER in asked else sorted(asked)[0]
        if prop.lazy in _OPTION_FOR:
            return f"lazy={prop.lazy!r}"
        return None

    def _read(self, prop: RelationshipProperty[Any]) -> bool:
        # inherited relationships have a descriptor per subclass: any of them counts
        return any(
            self.reads[(mapper.class_, prop.key)] for mapper in prop.parent.self_and_descendants
        )

    def unused(self) -> list[UnusedEagerLoad]:
        found = []
        for prop, count in sorted(self.loaded.items(), key=lambda kv: label(kv[0])):
            loader = self.loader_of(prop)
            if loader is None or loader == CONTAINS_EAGER or self._read(prop):
                continue  # nothing of theirs to remove, or free (rows already fetched)
            found.append(UnusedEagerLoad(label(prop), count, loader))
        return found

    def cheaper_loaders(self) -> list[LoaderNote]:
        """Many-to-one relationships loaded by separate statements: joinedload would have
        fetched them in their parent's query. A note, never a failed check."""
        notes = []
        for prop, statements in sorted(self.separate.items(), key=lambda kv: label(kv[0])):
            loader = self.loader_of(prop)
            if prop.direction is MANYTOONE and loader is not None and self._read(prop):
                chain = self.chains.get(prop, (prop,))
                notes.append(LoaderNote(label(prop), loader, statements, self._chained(chain)))
        return notes

    def _chained(self, chain: tuple[RelationshipProperty[Any], ...]) -> str:
        """The option to write instead: the learner's own loaders up to the parent, then
        joinedload for the last step."""
        option = ""
        for prop in chain[:-1]:
            loader = self.loader_of(prop) or "defaultload"
            loader = loader if loader in _OPTION_FOR.values() else "defaultload"
            option += f"{'.' if option else ''}{loader}({label(prop)})"
        return f"{option}{'.' if option else ''}joinedload({label(chain[-1])})"

    def results(self) -> dict[str, Any]:
        return {"unused_eager_loads": len(self.unused())}


@dataclass(frozen=True)
class LoaderNote:
    relationship: str
    loader: str
    statements: int
    instead: str  # the option that loads it in its parent's query

    def message(self) -> str:
        one = self.statements == 1
        return (
            f"{self.relationship} is many-to-one and {self.loader} loaded it in "
            f"{self.statements} extra {'statement' if one else 'statements'}: "
            f"{self.instead} would fetch it with its parent's rows and save "
            f"{self.statements} {'round trip' if one else 'round trips'}"
        )
