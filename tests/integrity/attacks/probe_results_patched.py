"""Patches the probes' results() at import, so an N+1 reports flat statements and no lazy loads.

attack: QueryProbe.results and LazyLoadProbe.results in perfkata.bench.probes.* are
    replaced when the solution is imported; render_index keeps the starter's N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe
from perfkata.katas.n_plus_one_blog.models import Post


def _flat_statements(self):
    return {"statements": 3, "orm_statements": 3, "driver_statements": 3, "bypassed_statements": 0}


QueryProbe.results = _flat_statements
QueryProbe.repeated = lambda self, at_least: []
LazyLoadProbe.results = lambda self: {"lazy_loads": 0}
LazyLoadProbe.sites = property(lambda self: Counter())


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
