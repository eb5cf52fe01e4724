"""The n-plus-one-blog kata: an index page with every N+1 pattern of the tutorial."""

from __future__ import annotations

from importlib.resources import files
from types import ModuleType
from typing import Any

from perfkata.bench.oracle import first_difference
from perfkata.katas.base import Check, RunEnv, define_kata
from perfkata.katas.n_plus_one_blog import data
from perfkata.katas.n_plus_one_blog.models import Base


def run_index(module: ModuleType, env: RunEnv) -> Any:
    return module.render_index(env.session)


def verify_index(dataset: data.BlogData, output: Any) -> str | None:
    return first_difference(data.expected_index(dataset), output)


HINTS = (
    "Count before you change anything: every first touch of post.author, post.category "
    "or post.comments inside the loop is one more SELECT — per post. The grade's N+1 lines "
    "say which relationship and which line of blog.py.",
    "Ask for the related rows up front, in the query that loads the posts: SQLAlchemy "
    "calls these loader options, added with select(Post).options(...).",
    "Many-to-one relationships (author, category) suit joinedload(...): one JOIN, one row "
    "per post. Collections (comments) suit selectinload(...): one extra SELECT … WHERE "
    "post_id IN (…). A relationship of a relationship is chained: "
    "selectinload(Post.comments).joinedload(Comment.author).",
    "select(Post).order_by(Post.id).options(joinedload(Post.author), "
    "joinedload(Post.category), selectinload(Post.comments).joinedload(Comment.author)) — "
    "and nothing for Post.tags, which the page never shows.",
)

KATA = define_kata(
    slug="n-plus-one-blog",
    title="The blog index that runs a query per post",
    difficulty="beginner",
    summary="Find and remove every N+1 query with SQLAlchemy loader options.",
    files=("blog.py",),
    entry_points=("render_index",),
    sizes=(50, 200, 800),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_index,
    workload=run_index,
    # Correct output is the gate, not a prize: the points are for the lesson (no query per
    # post, no lazy loads, nothing loaded for nothing), so an untouched starter scores ~15.
    # Which correct loader costs fewer round trips is a note on the grade, never a check:
    # selectinload for everything (5 -> 8 statements as posts go 50 -> 800, one IN per 500
    # keys) is as correct as the reference's joinedload + selectinload (2 -> 3).
    rubric=(
        Check.of(
            "correct",
            "correct output",
            "correct",
            "==1",
            0,
            "Return exactly what the starter returns: same keys, posts by id, "
            "commenters by comment id.",
            gate=True,
        ),
        Check.of(
            "statements-flat",
            "statements flat as N grows",
            "statements:growth",
            "O(1)",
            45,
            "Load related rows with the posts (loader options, or one query per table) "
            "instead of one query per post.",
        ),
        Check.of(
            "no-lazy-loads",
            "lazy loads",
            "lazy_loads",
            "==0",
            30,
            "Every relationship the page reads must be loaded by the query.",
        ),
        Check.of(
            "no-unused-eager",
            "unused eager loads",
            "unused_eager_loads",
            "==0",
            10,
            "Remove loader options for relationships the page never reads.",
        ),
        Check.of(
            "speedup",
            "speed-up vs starter",
            "speedup",
            # >= 0.4x the reference's speed-up in the same rounds (paired per round), and
            # a floor far below what the reference shows on any machine (grader.timing)
            ">=0.4*ref & >=2",
            10,
            "Fewer round trips make the page faster: fix any failing query check first.",
        ),
        Check.of(
            "memory",
            "peak memory",
            "peak_bytes",
            "<=1.5*ref",
            5,
            "Load only the columns and rows the page needs; joinedload on a "
            "collection multiplies rows.",
        ),
    ),
)
