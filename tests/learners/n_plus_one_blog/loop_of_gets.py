"""A hand-written N+1: session.get() for every author, inside the loop."""

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(
        select(Post).order_by(Post.id).options(selectinload(Post.comments).joinedload(Comment.author))
    ).all()
    index = []
    for post in posts:
        author = session.execute(select(User.name).where(User.id == post.author_id)).scalar_one()
        category = session.execute(select(Category.name).where(Category.id == post.category_id)).scalar_one()
        index.append(
            {
                "title": post.title,
                "author": author,
                "category": category,
                "comment_count": len(post.comments),
                "commenters": [c.author.name for c in post.comments],
            }
        )
    return index
