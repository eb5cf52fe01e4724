"""learner: Gus, knows contains_eager from a blog post about "one query to rule them all".
mistake: select(Post).join(Post.comments).join(Comment.author) with contains_eager — an
INNER join, so every post without a comment silently disappears from the index (and
posts come out right only because of the ORDER BY). One statement, no lazy loads.
expected: the correctness gate fails ("N posts missing", e.g. the first missing post's
title), score 0; a grader whose data gives every post a comment would false-pass it.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from perfkata.katas.n_plus_one_blog.models import Comment, Post, User

Commenter = aliased(User)


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .join(Post.comments)
        .join(Commenter, Comment.author)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            contains_eager(Post.comments).contains_eager(Comment.author, alias=Commenter),
        )
        .order_by(Post.id, Comment.id)
    )
    posts = session.scalars(query).unique().all()
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
