"""Reference solution: every relationship the page reads is loaded by the query.

- many-to-one (author, category): joinedload — one JOIN, still one row per post;
- one-to-many (comments): selectinload — one SELECT … WHERE post_id IN (…) per 500 posts;
- the comments' authors: chained from the comments, joined onto that same SELECT;
- tags: not loaded, because the page does not show them.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
    )
    index = []
    for post in session.scalars(query).unique():
        index.append(
            {
                "title": post.title,
                "author": post.author.name,
                "category": post.category.name,
                "comment_count": len(post.comments),
                "commenters": [comment.author.name for comment in post.comments],
            }
        )
    return index
