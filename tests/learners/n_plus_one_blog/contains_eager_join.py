"""A correct fix that lets the JOIN do the work: the posts query joins authors and
categories anyway, so contains_eager fills the relationships from those rows, and the
page reads the names straight from each result row."""

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager, selectinload

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User


def render_index(session: Session) -> list[dict]:
    stmt = (
        select(Post, User, Category)
        .join(Post.author)
        .join(Post.category)
        .options(
            contains_eager(Post.author),
            contains_eager(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
        .order_by(Post.id)
    )
    page = []
    for post, author, category in session.execute(stmt):
        names = [c.author.name for c in post.comments]
        page.append(
            {
                "title": post.title,
                "author": author.name,
                "category": category.name,
                "comment_count": len(names),
                "commenters": names,
            }
        )
    return page
