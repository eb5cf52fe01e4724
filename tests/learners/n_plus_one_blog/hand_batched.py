"""A correct fix written by hand: one query per table, ids batched with IN."""

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User


def render_index(session: Session) -> list[dict]:
    posts = session.execute(
        select(Post.id, Post.title, Post.author_id, Post.category_id).order_by(Post.id)
    ).all()
    categories = dict(session.execute(select(Category.id, Category.name)).all())
    comments = defaultdict(list)
    for post_id, author_id in session.execute(
        select(Comment.post_id, Comment.author_id).order_by(Comment.id)
    ):
        comments[post_id].append(author_id)
    user_ids = {p.author_id for p in posts} | {a for ids in comments.values() for a in ids}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
    return [
        {
            "title": p.title,
            "author": names[p.author_id],
            "category": categories[p.category_id],
            "comment_count": len(comments[p.id]),
            "commenters": [names[a] for a in comments[p.id]],
        }
        for p in posts
    ]
