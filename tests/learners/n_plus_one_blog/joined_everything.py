from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            joinedload(Post.comments).joinedload(Comment.author),
        )
    )
    return [
        {
            "title": p.title,
            "author": p.author.name,
            "category": p.category.name,
            "comment_count": len(p.comments),
            "commenters": [c.author.name for c in p.comments],
        }
        for p in session.scalars(query).unique()
    ]
