"""Turns sqlalchemy.event.listen into a no-op, so no probe can attach a single listener.

attack: the probes call `event.listen(...)` on the sqlalchemy.event module for
    before_cursor_execute, do_orm_execute and the pool's checkout (which traces the
    driver); patched at import, every listener is dropped (and `remove` forgives that).
    render_index keeps the starter's N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import sqlalchemy.event
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

_listen, _remove = sqlalchemy.event.listen, sqlalchemy.event.remove
_PROBE_EVENTS = {"before_cursor_execute", "do_orm_execute", "checkout", "checkin"}


def _listen_unless_probe(target, name, fn, *args, **kwargs):
    if name in _PROBE_EVENTS:
        return None
    return _listen(target, name, fn, *args, **kwargs)


def _remove_unless_probe(target, name, fn):
    if name in _PROBE_EVENTS:
        return None
    return _remove(target, name, fn)


sqlalchemy.event.listen = _listen_unless_probe
sqlalchemy.event.remove = _remove_unless_probe


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
