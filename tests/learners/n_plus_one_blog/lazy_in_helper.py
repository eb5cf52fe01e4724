"""learner: Chen, joinedloads everything in one big query and refactored into helpers.
mistake: joinedload(Post.comments).joinedload(Comment.author) multiplies the result rows
(one row per comment, posts repeated, .unique() needed) — counts are flat, 1 statement —
but the category name is read in a helper, `_category_label`, that was written before the
fix and reaches post.category lazily; nobody added an option for it.
Categories are few, so the lazy SELECTs stop growing once every category is in the
session: the statement count looks almost flat.
expected: "lazy loads = 0" fails on Post.category (inside _category_label); the
statements-flat check may well pass, so the lazy-load diagnostic must name the helper's
line; peak memory may also exceed 1.5x the reference because of the multiplied rows.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def _category_label(post: Post) -> str:
    # Written months ago for the sidebar; still lazy.
    return post.category.name


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.comments).joinedload(Comment.author),
        )
    )
    posts = session.scalars(query).unique().all()
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": _category_label(post),
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
