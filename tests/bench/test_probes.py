"""Each probe on the blog models, on SQLite and PostgreSQL: exact counts, one diagnostic
per N+1 pattern, unused eager loading, and statements that bypass the ORM."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.bench.probes import ProbeContext, probe_run
from perfkata.bench.probes.eager import UnusedEagerProbe
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.memory import AllocationProbe
from perfkata.bench.probes.queries import QueryProbe, is_transaction_control
from perfkata.bench.sourceline import LearnerFiles
from perfkata.katas.n_plus_one_blog import data
from perfkata.katas.n_plus_one_blog.models import Base, Comment, Post

SIZE, SEED = 60, 11


@pytest.fixture
def blog(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        data.load(session, data.generate(SIZE, SEED))
    return engine


def probed(engine: Engine, body: Callable[[Session], Any], *probes: Any) -> dict[str, Any]:
    ctx = ProbeContext(engine, Base, LearnerFiles([__file__]))
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
