"""learner: Hannah, DBA turned developer; wants to see the JOIN she is asking for.
approach: one SELECT with explicit JOINs (an aliased users table for the commenters, a
LEFT JOIN for posts without comments) and contains_eager to fill the relationships from
the joined rows; .unique() collapses the one-row-per-comment result back to posts.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, contains_eager

from perfkata.katas.n_plus_one_blog.models import Comment, Post, User


def render_index(session: Session) -> list[dict]:
    post_author = aliased(User, name="post_author")
    commenter = aliased(User, name="commenter")
    query = (
        select(Post)
        .join(Post.author.of_type(post_author))
        .join(Post.category)
        .outerjoin(Post.comments)
        .outerjoin(Comment.author.of_type(commenter))
        .options(
            contains_eager(Post.author.of_type(post_author)),
            contains_eager(Post.category),
            contains_eager(Post.comments).contains_eager(Comment.author.of_type(commenter)),
        )
        # Comment.id ordering fills each post's collection in comment order.
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
