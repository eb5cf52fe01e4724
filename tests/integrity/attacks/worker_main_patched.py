"""Rewrites the worker's replies by patching its own module globals (sys.modules['__main__']).

attack: the worker runs as __main__ (python -m perfkata.grader.worker) and looks up
    `handle` as a global for every request; at import the solution wraps it so each
    "measure" reply reports flat statements and no lazy loads. render_index keeps the N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

_worker = sys.modules["__main__"]
_handle = _worker.handle


def _forged(state, req):
    reply = _handle(state, req)
    if req.get("op") == "measure" and reply.get("ok"):
        for entry in reply["result"]["sizes"]:
            counters = entry["counters"]
            counters.update(statements=3, orm_statements=3, driver_statements=3, lazy_loads=0)
            counters["bypassed_statements"] = 0
            entry["diagnostics"] = []
    return reply


_worker.handle = _forged


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
