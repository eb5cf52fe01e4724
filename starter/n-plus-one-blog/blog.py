"""The blog's front page. Correct — and it runs several queries for every post.

`perfkata grade` calls `render_index(session)` with a fresh SQLAlchemy Session on a
database of 50, 200 and 800 posts, checks the output, and counts the SQL statements.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session: Session) -> list[dict]:
    # TODO: this loads the posts only; every relationship below is loaded lazily,
    #       one SELECT per post (or per comment) the first time the loop touches it.
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    index = []
    for post in posts:
        index.append(
            {
                "title": post.title,
                "author": post.author.name,  # TODO: N+1 — one SELECT per author
                "category": post.category.name,  # TODO: N+1 — one SELECT per category
                "comment_count": len(post.comments),  # TODO: N+1 — one SELECT per post
                # TODO: nested N+1 — one SELECT per comment author
                "commenters": [comment.author.name for comment in post.comments],
            }
        )
    return index
