"""Turns sqlalchemy.event.listen into a no-op, so no probe can attach a single listener.

attack: the probes call `event.listen(...)` on the sqlalchemy.event module for
    before_cursor_execute, do_orm_execute and the pool's checkout (which traces the
    driver); patched at import, every listener is dropped (and `remove` forgives that),
    and the SQLite dialect opens its connections with a sqlite3.connect bound at import,
    never the probe's tracing one. render_index keeps the starter's N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

from sqlite3 import connect as _unpatched_connect

import sqlalchemy.event
from sqlalchemy import select
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
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
# New pooled connections come from the dialect, which calls sqlite3.dbapi2.connect (the
# probe's tracing wrapper while it runs): the dialect now calls the unpatched function.
SQLiteDialect_pysqlite.connect = lambda self, *cargs, **cparams: _unpatched_connect(
    *cargs, **cparams
)


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
