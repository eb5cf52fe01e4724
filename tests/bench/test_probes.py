"""Each probe on the blog models, on SQLite and PostgreSQL: exact counts, one diagnostic
per N+1 pattern, unused eager loading, and statements that bypass the ORM."""

import gc
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import ForeignKey, String, create_engine, delete, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import CACHE_HIT
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    contains_eager,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value

from perfkata.bench.probes import ProbeContext, probe_run
from perfkata.bench.probes.eager import UnusedEagerProbe
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.memory import AllocationProbe
from perfkata.bench.probes.queries import QueryProbe, is_transaction_control
from perfkata.bench.sourceline import LearnerFiles
from perfkata.katas.n_plus_one_blog import data
from perfkata.katas.n_plus_one_blog.models import Base, Category, Comment, Post, User

SIZE, SEED = 60, 11


@pytest.fixture
def blog(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        data.load(session, data.generate(SIZE, SEED))
    return engine


def probed(
    engine: Engine, body: Callable[[Session], Any], *probes: Any, models: Any = Base
) -> dict[str, Any]:
    ctx = ProbeContext(engine, models, LearnerFiles([__file__]))
    with probe_run(list(probes), ctx) as results, Session(engine) as session:
        body(session)
    return results


def posts(session: Session, *options: Any) -> list[Post]:
    return list(session.scalars(select(Post).order_by(Post.id).options(*options)).unique())


def test_belongs_to_n_plus_one_names_relationship_line_and_joinedload(blog):
    lazy = LazyLoadProbe()
    probed(blog, lambda s: [p.author.name for p in posts(s)], lazy)
    (site,) = lazy.sites
    assert site.relationship == "Post.author"
    assert site.where is not None and site.where.short().startswith("test_probes.py:")
    assert site.suggested_option() == "joinedload(Post.author)"
    authors = {p["author_id"] for p in data.generate(SIZE, SEED).posts}
    assert lazy.sites[site] == len(authors)  # repeats come from the identity map


def test_has_many_count_is_a_collection_n_plus_one(blog):
    lazy = LazyLoadProbe()
    probed(blog, lambda s: [len(p.comments) for p in posts(s)], lazy)
    assert lazy.by_relationship() == {"Post.comments": SIZE}
    assert next(iter(lazy.sites)).suggested_option() == "selectinload(Post.comments)"


def test_nested_n_plus_one_suggests_the_chained_option(blog):
    lazy = LazyLoadProbe()
    probed(
        blog,
        lambda s: [
            [c.author.name for c in p.comments] for p in posts(s, selectinload(Post.comments))
        ],
        lazy,
    )
    (site,) = lazy.sites
    assert site.relationship == "Comment.author"
    assert site.suggested_option() == "selectinload(Post.comments).joinedload(Comment.author)"


def test_nested_path_is_rebuilt_when_the_parent_was_lazy_too(blog):
    lazy = LazyLoadProbe()
    probed(blog, lambda s: [[c.author.name for c in p.comments] for p in posts(s)], lazy)
    options = {site.relationship: site.suggested_option() for site in lazy.sites}
    assert options["Comment.author"] == "selectinload(Post.comments).joinedload(Comment.author)"


def test_lazy_probe_lets_orm_updates_and_deletes_through(blog):
    lazy, queries = LazyLoadProbe(), QueryProbe()

    def write_then_read(session: Session) -> None:
        session.execute(update(Post).where(Post.id == 1).values(title="edited"))
        session.execute(delete(Comment).where(Comment.post_id == 2))
        [len(p.comments) for p in posts(session)[:3]]

    results = probed(blog, write_then_read, lazy, queries)
    assert results["lazy_loads"] == 3 and results["statements"] == 6


def test_query_probe_counts_every_statement_of_the_starter(blog):
    generated = data.generate(SIZE, SEED)
    queries = QueryProbe()
    probed(
        blog,
        lambda s: [
            (p.author.name, p.category.name, [c.author.name for c in p.comments]) for p in posts(s)
        ],
        queries,
    )
    users = {p["author_id"] for p in generated.posts} | {c["author_id"] for c in generated.comments}
    categories = {p["category_id"] for p in generated.posts}
    expected = 1 + SIZE + len(users) + len(categories)  # posts, comments per post, each user once
    assert queries.results()["statements"] == expected


def test_eager_loads_that_are_read_are_not_reported(blog):
    eager = UnusedEagerProbe()
    probed(blog, lambda s: [p.author.name for p in posts(s, joinedload(Post.author))], eager)
    assert eager.unused() == []


def test_unused_eager_load_is_reported_with_its_loader(blog):
    eager = UnusedEagerProbe()
    probed(blog, lambda s: [p.title for p in posts(s, selectinload(Post.tags))], eager)
    (unused,) = eager.unused()
    assert unused.relationship == "Post.tags"
    assert unused.message().endswith("remove selectinload(Post.tags)")


def test_unused_joinedload_is_named_as_such(blog):
    eager = UnusedEagerProbe()
    probed(blog, lambda s: [p.title for p in posts(s, joinedload(Post.category))], eager)
    assert [u.message() for u in eager.unused()] == [
        "AVOID eager loading: Post.category is loaded but never used — "
        "remove joinedload(Post.category)"
    ]


def test_eager_probe_restores_the_descriptors(blog):
    eager = UnusedEagerProbe()
    probed(blog, lambda s: posts(s), eager)
    assert type(Post.__dict__["comments"]).__name__ == "InstrumentedAttribute"
    assert type(Comment.__dict__["author"]).__name__ == "InstrumentedAttribute"


@pytest.mark.parametrize("db_url", [None])  # the cross-check is SQLite's trace callback
def test_raw_driver_statements_are_counted_on_sqlite(blog):
    queries = QueryProbe()

    def raw(session: Session) -> None:
        cursor = session.connection().connection.driver_connection
        for post_id in range(1, 11):
            cursor.execute("SELECT count(*) FROM comments WHERE post_id = ?", (post_id,))

    results = probed(blog, raw, queries)
    assert results["bypassed_statements"] == 10
    assert results["statements"] == 10


def test_allocation_probe_sees_the_objects_a_workload_builds(blog):
    memory = AllocationProbe()
    results = probed(blog, lambda s: [bytearray(1024) for _ in range(2000)], memory)
    assert results["peak_bytes"] >= 2000 * 1024


class Cycle:
    """Garbage the collector must find: a 10 KiB payload held in a reference cycle."""

    def __init__(self) -> None:
        self.me, self.payload = self, bytearray(10 * 1024)


def statements_leaving_cycles(count: int) -> Callable[[Session], None]:
    def body(session: Session) -> None:
        for _ in range(count):
            Cycle()  # dropped at once, alive only until a collection
            session.execute(select(Post.id).limit(1)).all()

    return body


@pytest.mark.parametrize("db_url", [None])
def test_allocation_probe_counts_what_is_alive_not_cycles_awaiting_collection(blog):
    # Given workloads that drop a 10 KiB cycle before each of 20 or of 200 statements,
    # and keep nothing (the garbage collector would let a few hundred cycles pile up)
    gc.disable()  # as if the automatic collector happened not to run
    try:
        few = probed(blog, statements_leaving_cycles(20), AllocationProbe())["peak_bytes"]
        many = probed(blog, statements_leaving_cycles(200), AllocationProbe())["peak_bytes"]
    finally:
        gc.enable()
    # Then ten times the statements does not add ten times the garbage to the peak
    assert many - few < 64 * 1024  # 180 more cycles would be 1.8 MiB


@pytest.mark.parametrize(
    ("statement", "control"),
    [
        ("BEGIN", True),
        ("  commit;", True),
        ("ROLLBACK TO SAVEPOINT sa_1", True),
        ("", True),
        ("BEGINNING_TABLE", False),  # a word that starts like BEGIN is not BEGIN
        ("SELECT 1 -- COMMIT", False),
        ("\n  DELETE FROM posts", False),
    ],
)
def test_transaction_control_is_read_from_the_first_word_only(statement, control):
    assert is_transaction_control(statement) is control


# --- Bullet's single-record rule: an object that cannot cause an N+1 is never counted ---


@pytest.mark.parametrize(
    "load_one",
    [
        lambda s: s.get(Post, 7),
        lambda s: s.scalars(select(Post).where(Post.id == 7)).one(),
        lambda s: s.execute(select(Post).where(Post.id == 7)).scalar_one(),
        lambda s: s.scalars(select(Post).order_by(Post.id).limit(1)).first(),
        lambda s: s.scalars(select(Post).where(Post.id.in_([7]))).all()[0],  # one row
    ],
    ids=["get", "one", "scalar_one", "limit-first", "one-row-result"],
)
def test_an_object_loaded_alone_reading_its_relationships_is_no_n_plus_one(blog, load_one):
    # Given a post loaded on its own, When the page reads its author, category and comments
    lazy = LazyLoadProbe()
    results = probed(blog, lambda s: read_everything(load_one(s)), lazy)
    # Then nothing is counted: nothing here grows with the number of posts
    assert results["lazy_loads"] == 0 and lazy.sites == {}
    assert lazy.alone == 3


def read_everything(post: Post) -> None:
    post.author.name, post.category.name, len(post.comments)


def test_a_single_record_stays_so_when_a_later_query_returns_it_again(blog):
    # Given post 1 loaded alone, then every post by a multi-row query
    lazy = LazyLoadProbe()

    def body(s: Session) -> None:
        first = s.get(Post, 1)  # kept: the identity map holds objects weakly
        assert first is not None and first.comments is not None
        assert first in posts(s) and [len(p.comments) for p in posts(s)]

    probed(blog, body, lazy)
    # Then post 1's comments are not part of the N+1; the other posts' are
    assert lazy.by_relationship() == {"Post.comments": SIZE - 1}


def test_objects_the_learner_created_are_not_counted(blog):
    # Given new posts added and flushed, When their relationships are read
    lazy = LazyLoadProbe()

    def body(s: Session) -> None:
        new = [
            Post(id=10_000 + i, title=f"new {i}", body="…", author_id=1, category_id=1)
            for i in range(5)
        ]
        s.add_all(new)
        s.flush()
        [(p.author.name, len(p.comments)) for p in new]

    probed(blog, body, lazy)
    # Then no lazy load is an N+1
    assert lazy.results()["lazy_loads"] == 0


def test_objects_expired_by_commit_and_refreshed_alone_are_not_counted(blog):
    # Given posts loaded, then expired by commit() and each refreshed on its own
    lazy = LazyLoadProbe()

    def body(s: Session) -> None:
        loaded = posts(s)[:5]
        s.commit()
        [(p.title, len(p.comments)) for p in loaded]

    probed(blog, body, lazy)
    assert lazy.results()["lazy_loads"] == 0


def test_a_lazily_loaded_collection_of_one_is_still_a_link_of_the_chain(blog):
    # Given every post's comments loaded lazily (some posts have exactly one comment)
    lazy = LazyLoadProbe()
    probed(blog, lambda s: [[c.author.name for c in p.comments] for p in posts(s)], lazy)
    # Then each comment's author load counts, the single comments' too
    comments = data.generate(SIZE, SEED).comments
    first_seen: set[int] = set()
    new_users = 0
    for comment in comments:  # the identity map answers a user's second load without SQL
        if comment["author_id"] not in first_seen:
            first_seen.add(comment["author_id"])
            new_users += 1
    assert lazy.by_relationship()["Comment.author"] <= new_users
    assert lazy.by_relationship()["Comment.author"] > 0.8 * new_users


# --- contains_eager and the loader named in advice ---


def test_contains_eager_from_a_join_is_not_unused_eager_loading(blog):
    # Given the page reads names from the joined rows, not from post.author
    eager = UnusedEagerProbe()

    def body(s: Session) -> None:
        stmt = (
            select(Post, User)
            .join(Post.author)
            .options(contains_eager(Post.author))
            .order_by(Post.id)
        )
        [(p.title, u.name) for p, u in s.execute(stmt)]

    probed(blog, body, eager)
    # Then filling Post.author from rows fetched anyway is never reported
    assert eager.unused() == [] and eager.loader_of(Post.author.property) == "contains_eager"


def test_a_relationship_filled_by_no_loader_the_learner_wrote_is_not_named(blog):
    # Given comments set by hand (set_committed_value), never read through post.comments
    eager = UnusedEagerProbe()

    def body(s: Session) -> None:
        for post in posts(s):
            set_committed_value(post, "comments", [])

    probed(blog, body, eager)
    # Then no "remove joinedload(...)" for a loader they never wrote
    assert eager.unused() == []


def test_an_unused_load_names_the_loader_the_learner_wrote(blog):
    eager = UnusedEagerProbe()
    stmt_options = (selectinload(Post.comments).joinedload(Comment.author),)
    probed(blog, lambda s: [len(p.comments) for p in posts(s, *stmt_options)], eager)
    assert [u.message() for u in eager.unused()] == [
        "AVOID eager loading: Comment.author is loaded but never used — "
        "remove joinedload(Comment.author)"
    ]


def test_many_to_one_loaded_by_separate_statements_gets_a_note_with_the_cheaper_option(blog):
    # Given selectinload for a many-to-one, and for a collection's many-to-one
    eager = UnusedEagerProbe()
    options = (selectinload(Post.author), selectinload(Post.comments).selectinload(Comment.author))
    probed(
        blog,
        lambda s: [
            (p.author.name, [c.author.name for c in p.comments]) for p in posts(s, *options)
        ],
        eager,
    )
    # Then each is a note (one IN statement each at this size), never for the collection
    assert [n.message() for n in eager.cheaper_loaders()] == [
        "Comment.author is many-to-one and selectinload loaded it in 1 extra statement: "
        "selectinload(Post.comments).joinedload(Comment.author) would fetch it with its "
        "parent's rows and save 1 round trip",
        "Post.author is many-to-one and selectinload loaded it in 1 extra statement: "
        "joinedload(Post.author) would fetch it with its parent's rows and save 1 round trip",
    ]


def test_the_cheapest_loaders_get_no_note(blog):
    eager = UnusedEagerProbe()
    options = (joinedload(Post.category), selectinload(Post.comments).joinedload(Comment.author))
    probed(
        blog,
        lambda s: [
            (p.category.name, [c.author.name for c in p.comments]) for p in posts(s, *options)
        ],
        eager,
    )
    assert eager.cheaper_loaders() == []


def test_probed_statements_keep_using_the_compiled_cache(blog):
    # Given a probed run whose statements name relationships (join, has, loader options)
    eager = UnusedEagerProbe()

    def body(s: Session) -> None:
        for _ in range(2):
            s.scalars(select(Post).join(Post.comments).where(Post.author.has(User.id > 3))).all()

    cached: list[Any] = []

    def on_execute(conn: Any, cursor: Any, statement: str, params: Any, context: Any, *_: Any):
        cached.append(context.cache_hit)

    # When it runs twice, Then SQLAlchemy does not warn that the attribute skips its cache,
    # and the second run is a compiled-cache hit
    event.listen(blog, "after_cursor_execute", on_execute)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            probed(blog, body, eager)
    finally:
        event.remove(blog, "after_cursor_execute", on_execute)
    assert cached[-1] is CACHE_HIT


# --- single-table inheritance: one name for a relationship, the declaring class's ---


class StiBase(DeclarativeBase):
    pass


class Writer(StiBase):
    __tablename__ = "writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Document(StiBase):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    writer_id: Mapped[int] = mapped_column(ForeignKey("writers.id"))
    author: Mapped[Writer] = relationship()
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "polymorphic_on": "kind",
        "polymorphic_identity": "document",
    }


class Page(Document):
    __mapper_args__: ClassVar[dict[str, Any]] = {"polymorphic_identity": "page"}


@pytest.fixture
def documents(engine: Engine) -> Engine:
    StiBase.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(Writer(id=i, name=f"w{i}") for i in range(1, 11))
        session.add_all(Page(id=i, writer_id=i) for i in range(1, 11))
        session.commit()
    return engine


def test_both_probes_name_an_inherited_relationship_by_its_declaring_class(documents):
    # Given pages (a subclass) whose author relationship is declared on Document
    lazy, eager = LazyLoadProbe(), UnusedEagerProbe()
    # When one run reads every page's author lazily and another loads it eagerly, unread
    probed(
        documents, lambda s: [p.author.name for p in s.scalars(select(Page))], lazy, models=StiBase
    )
    probed(
        documents,
        lambda s: s.scalars(select(Page).options(joinedload(Page.author))).unique().all(),
        eager,
        models=StiBase,
    )
    # Then both name it by the class that declares it
    assert set(lazy.by_relationship()) == {"Document.author"}
    assert [u.relationship for u in eager.unused()] == ["Document.author"]


# --- drivers the query probe cannot trace, and raw statements by learner line ---


class UntraceableConnection:
    """A sqlite3 connection without set_trace_callback, like aiosqlite's adapted one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        if name == "set_trace_callback":
            raise AttributeError(name)
        return getattr(self._conn, name)


def test_query_probe_counts_at_sqlalchemy_on_an_untraceable_driver(tmp_path: Path):
    # Given an engine whose DBAPI connections have no trace hook
    path = tmp_path / "untraced.db"
    engine = create_engine(
        "sqlite://", creator=lambda: UntraceableConnection(sqlite3.connect(path))
    )
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        data.load(session, data.generate(10, SEED))
    queries = QueryProbe()
    # When a probed run reads (no AttributeError), Then SQLAlchemy's count stands
    results = probed(engine, lambda s: [len(p.comments) for p in posts(s)], queries)
    engine.dispose()
    assert results["statements"] == 11 and results["driver_statements"] == 0


@pytest.mark.parametrize("db_url", [None])  # SQLite's trace callback sees raw statements
def test_raw_driver_statements_are_attributed_to_the_learners_line(blog):
    queries = QueryProbe()

    def raw(session: Session) -> None:
        cursor = session.connection().connection.driver_connection
        for post_id in range(1, 21):
            cursor.execute("SELECT count(*) FROM comments WHERE post_id = ?", (post_id,))  # here

    probed(blog, raw, queries)
    (where,) = queries.bypass_sites
    assert where is not None and where.function == "raw"
    line = Path(__file__).read_text().splitlines()[where.line - 1]
    assert line.rstrip().endswith("# here") and queries.bypass_sites[where] == 20


def test_statements_through_sqlalchemy_are_never_taken_for_raw_ones(blog):
    queries = QueryProbe()

    def body(s: Session) -> None:
        [len(p.comments) for p in posts(s)]
        s.execute(update(Category).where(Category.id == 1).values(name="x"))
        s.commit()

    results = probed(blog, body, queries)
    assert results["bypassed_statements"] == 0 and queries.bypass_sites == {}
