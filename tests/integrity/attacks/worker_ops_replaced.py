"""Replaces the worker's "measure" handler in its OPS table (a dict, changed in place).

attack: sys.modules['__main__'] is the worker; its OPS dict maps each request to a
    function. Mutating the dict needs no rebinding of a module global: OPS["measure"]
    becomes a wrapper that runs the real measure_size and reports flat statements and
    no lazy loads. render_index keeps the starter's N+1.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

_ops = sys.modules["__main__"].OPS
_measure = _ops["measure"]


def _forged_measure(state, req):
    result = _measure(state, req)
    for entry in result["sizes"]:
        entry["counters"].update(statements=3, orm_statements=3, driver_statements=3, lazy_loads=0)
        entry["counters"]["bypassed_statements"] = 0
        entry["diagnostics"] = []
    return result


_ops["measure"] = _forged_measure


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
