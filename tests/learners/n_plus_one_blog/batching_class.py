"""A correct fix by a learner who likes small classes: plain column queries, the ids of
each table fetched with IN in chunks of 250, and the page assembled from dictionaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User

CHUNK = 250


def chunked(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


class NameBook:
    """id -> name for one table, filled with as few IN queries as the chunk size allows."""

    def __init__(self, session: Session, model: type[User] | type[Category]) -> None:
        self.session, self.model = session, model
        self.names: dict[int, str] = {}

    def fetch(self, ids: Iterable[int]) -> NameBook:
        for chunk in chunked(ids):
            rows = self.session.execute(
                select(self.model.id, self.model.name).where(self.model.id.in_(chunk))
            )
            self.names.update(rows.tuples().all())
        return self

    def __getitem__(self, key: int) -> str:
        return self.names[key]


class IndexPage:
    def __init__(self, session: Session) -> None:
        self.session = session

    def comments_by_post(self, post_ids: list[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for chunk in chunked(post_ids):
            rows = self.session.execute(
                select(Comment.post_id, Comment.author_id)
                .where(Comment.post_id.in_(chunk))
                .order_by(Comment.id)
            )
            for post_id, author_id in rows:
                found[post_id].append(author_id)
        return found

    def render(self) -> list[dict]:
        posts = self.session.execute(
            select(Post.id, Post.title, Post.author_id, Post.category_id).order_by(Post.id)
        ).all()
        comments = self.comments_by_post([p.id for p in posts])
        people = NameBook(self.session, User).fetch(
            [p.author_id for p in posts] + [a for ids in comments.values() for a in ids]
        )
        categories = NameBook(self.session, Category).fetch(p.category_id for p in posts)
        return [
            {
                "title": p.title,
                "author": people[p.author_id],
                "category": categories[p.category_id],
                "comment_count": len(comments[p.id]),
                "commenters": [people[a] for a in comments[p.id]],
            }
            for p in posts
        ]


def render_index(session: Session) -> list[dict]:
    return IndexPage(session).render()
