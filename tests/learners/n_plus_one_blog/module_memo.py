"""learner: Eve, "the index rarely changes, so memoize it".
mistake: proper eager loading, plus a module-level memo of the rendered page keyed by
the database URL and the number of posts. A new comment, a renamed user or an edited
title leaves the post count unchanged, so the memo serves a stale page forever (and it
grows per database, never evicted). The second call in one process runs 1 statement.
expected: a good grader fails correctness after a data change between two calls
("output differs from expected: post N comment_count/commenters"); a grader that only
renders each database once will NOT see it — likely a false pass.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

_MEMO: dict[tuple[str, int], list[dict]] = {}


def render_index(session: Session) -> list[dict]:
    count = session.scalar(select(func.count()).select_from(Post))
    key = (str(session.get_bind().url), int(count or 0))
    if key in _MEMO:
        return _MEMO[key]
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
    )
    index = [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in session.scalars(query)
    ]
    _MEMO[key] = index
    return index
