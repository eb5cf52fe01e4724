"""A correct but slow page that hands the worker's timed call a clock of its own.

attack: the worker times each call with a clock bound as a default argument of its
    timed-call function before the learner's import (patching time.perf_counter changes
    nothing); this solution replaces that default through the worker module
    (sys.modules["__main__"]) with a clock that leaves out its 0.3 s sleep per call.
kata: n-plus-one-blog
backend: sqlite
timing: yes
expect: tampering detected
"""

import sys
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

_real_clock = time.perf_counter
_hidden = [0.0]


def _clock() -> float:
    return _real_clock() - _hidden[0]


_worker = sys.modules["__main__"]
if hasattr(_worker, "op_timed_call"):
    _worker.op_timed_call.__defaults__ = (_clock,)


def render_index(session: Session) -> list[dict]:
    started = _real_clock()
    time.sleep(0.3)  # the slowness the grade must see
    _hidden[0] += _real_clock() - started
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
    )
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in session.scalars(query)
    ]
