"""learner: Lena, Django developer burnt by N+1 in production; makes the ORM refuse lazy loads.
approach: joinedload for everything the page shows, including the comments collection
(one big LEFT OUTER JOIN, de-duplicated with .unique()), plus raiseload("*") so any
relationship she forgot would raise instead of quietly querying.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, raiseload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            joinedload(Post.comments).joinedload(Comment.author),
            raiseload("*"),
        )
        .order_by(Post.id)
    )
    posts = session.scalars(query).unique().all()

    def commenters(post: Post) -> list[str]:
        return [comment.author.name for comment in post.comments]

    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": commenters(post),
        }
        for post in posts
    ]
