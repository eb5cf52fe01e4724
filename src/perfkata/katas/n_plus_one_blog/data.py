"""The dataset: generated in memory from (size, seed), then written to the database.

The oracle reads the in-memory copy, so the expected answer never depends on the
learner's code or on the database they might have touched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, Tag, User, post_tags

FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Linus",
    "Margaret",
    "Guido",
    "Hedy",
    "Niklaus",
    "Sophie",
    "Tim",
    "Katherine",
)
LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Torvalds",
    "Hamilton",
    "van Rossum",
    "Lamarr",
    "Wirth",
    "Wilson",
)
WORDS = (
    "index",
    "cache",
    "query",
    "latency",
    "batch",
    "join",
    "lazy",
    "eager",
    "queue",
    "shard",
    "replica",
    "vacuum",
    "plan",
    "cursor",
    "pool",
    "lock",
    "retry",
)
CATEGORIES = ("Databases", "Caching", "Queues", "Profiling", "Scaling", "Ops", "Testing", "APIs")
TAGS = (
    "python",
    "sql",
    "orm",
    "redis",
    "postgres",
    "sqlite",
    "perf",
    "howto",
    "opinion",
    "deep-dive",
    "beginner",
    "war-story",
)


@dataclass(frozen=True)
class BlogData:
    users: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    post_tags: list[dict[str, Any]]


def generate(size: int, seed: int) -> BlogData:
    """`size` posts by about `size` distinct authors, each with 0–5 comments and 0–3 tags.

    Many distinct authors matter: with few, the identity map would answer most
    `post.author` loads without SQL and hide the N+1.
    """
    rng = random.Random(seed)
    users = [
        {"id": i, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} #{rng.randrange(10**4)}"}
        for i in range(1, size + 1)
    ]
    categories = [{"id": i, "name": name} for i, name in enumerate(CATEGORIES, 1)]
    tags = [{"id": i, "name": name} for i, name in enumerate(TAGS, 1)]
    posts: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for post_id in range(1, size + 1):
        title = " ".join(rng.choice(WORDS) for _ in range(3)).capitalize()
        posts.append(
            {
                "id": post_id,
                "title": f"{title} ({rng.randrange(10**5)})",
                "body": "…",
                "author_id": rng.randint(1, size),
                "category_id": rng.randint(1, len(categories)),
            }
        )
        for _ in range(rng.randint(0, 5)):
            comments.append(
                {
                    "id": len(comments) + 1,
                    "post_id": post_id,
                    "author_id": rng.randint(1, size),
                    "body": "…",
                }
            )
        for tag_id in rng.sample(range(1, len(tags) + 1), rng.randint(0, 3)):
            links.append({"post_id": post_id, "tag_id": tag_id})
    return BlogData(users, categories, tags, posts, comments, links)


def load(session: Session, data: BlogData) -> None:
    """Into the tables, not through the ORM's bulk insert: the same rows, about half the
    time (a grade builds several datasets per worker)."""
    for model, rows in (
        (User, data.users),
        (Category, data.categories),
        (Tag, data.tags),
        (Post, data.posts),
        (Comment, data.comments),
    ):
        session.execute(insert(cast(Table, model.__table__)), rows)
    if data.post_tags:
        session.execute(insert(post_tags), data.post_tags)
    session.commit()


def expected_index(data: BlogData) -> list[dict[str, Any]]:
    """The oracle: what `render_index` must return, computed from the generated rows."""
    users = {u["id"]: u["name"] for u in data.users}
    categories = {c["id"]: c["name"] for c in data.categories}
    by_post: dict[int, list[dict[str, Any]]] = {}
    for comment in data.comments:
        by_post.setdefault(comment["post_id"], []).append(comment)
    index = []
    for post in sorted(data.posts, key=lambda p: p["id"]):
        comments = sorted(by_post.get(post["id"], []), key=lambda c: c["id"])
        index.append(
            {
                "title": post["title"],
                "author": users[post["author_id"]],
                "category": categories[post["category_id"]],
                "comment_count": len(comments),
                "commenters": [users[c["author_id"]] for c in comments],
            }
        )
    return index
