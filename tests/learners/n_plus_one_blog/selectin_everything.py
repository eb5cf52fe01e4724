"""Correct fix the Rails way (`includes`): selectinload for every relationship the page shows."""

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(
        select(Post)
        .order_by(Post.id)
        .options(
            selectinload(Post.author),
            selectinload(Post.category),
            selectinload(Post.comments).selectinload(Comment.author),
        )
    )
    rows = []
    for post in posts:
        commenters = [comment.author.name for comment in post.comments]
        rows.append(
            {
                "title": post.title,
                "author": post.author.name,
                "category": post.category.name,
                "comment_count": len(commenters),
                "commenters": commenters,
            }
        )
    return rows
