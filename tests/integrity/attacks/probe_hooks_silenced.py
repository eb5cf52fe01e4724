"""Replaces the probes' hooks with no-ops at import: every counter stays at 0.

attack: QueryProbe._on_execute/_on_driver and LazyLoadProbe._on_execute (the methods the
    probes register as SQLAlchemy listeners and as the sqlite3 trace callback) become
    no-ops before the first probed run; render_index keeps the starter's N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

import perfkata.bench.probes.lazyloads as lazyloads
import perfkata.bench.probes.queries as queries
from perfkata.katas.n_plus_one_blog.models import Post


def _nothing(*args, **kwargs):
    return None


queries.QueryProbe._on_execute = _nothing
queries.QueryProbe._on_driver = _nothing
lazyloads.LazyLoadProbe._on_execute = _nothing


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
