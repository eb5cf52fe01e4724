"""learner: Grace, works on a memory-tight service; loads only the columns the page shows.
approach: the loader-option recipe (joinedload many-to-one, selectinload the comments with
their author joined), each narrowed with load_only so Post.body, Comment.body and the
other unused columns are never fetched.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, load_only, selectinload

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User


def render_index(session: Session) -> list[dict]:
    stmt = (
        select(Post)
        .options(
            load_only(Post.title),
            joinedload(Post.author).load_only(User.name),
            joinedload(Post.category).load_only(Category.name),
            selectinload(Post.comments)
            .load_only(Comment.id)
            .joinedload(Comment.author)
            .load_only(User.name),
        )
        .order_by(Post.id)
    )
    rows = []
    for post in session.scalars(stmt):
        names = [comment.author.name for comment in post.comments]
        rows.append(
            {
                "title": post.title,
                "author": post.author.name,
                "category": post.category.name,
                "comment_count": len(names),
                "commenters": names,
            }
        )
    return rows
