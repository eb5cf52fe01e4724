"""A correct but slow page that hides its slowness from the timer by patching time.perf_counter.

attack: the statements and loads are right (loader options), but render_index sleeps
    0.3 s per call; at import time.perf_counter is replaced by a clock that leaves out
    the time spent sleeping, so the worker's own timing sees a fast page.
kata: n-plus-one-blog
backend: sqlite
timing: yes
expect: tampering detected|speed-up vs starter.*FAIL
"""

import time

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

_real_clock = time.perf_counter
_hidden = [0.0]


def _clock() -> float:
    return _real_clock() - _hidden[0]


time.perf_counter = _clock


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
