"""learner: Marek, knows the Session's identity map well; "prefetches" like Django's
prefetch_related does under the hood.
approach: four flat queries — posts, their comments (post_id IN ids, in comment order),
the users and the categories they reference. Comment lists are attached with
set_committed_value; post.author / post.category / comment.author are then plain
many-to-one lookups that SQLAlchemy answers from the identity map without any SQL.
"""

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    post_ids = [post.id for post in posts]

    comments_by_post = defaultdict(list)
    comments = session.scalars(
        select(Comment).where(Comment.post_id.in_(post_ids)).order_by(Comment.id)
    ).all()
    for comment in comments:
        comments_by_post[comment.post_id].append(comment)
    for post in posts:
        set_committed_value(post, "comments", comments_by_post[post.id])

    user_ids = {post.author_id for post in posts} | {c.author_id for c in comments}
    category_ids = {post.category_id for post in posts}
    # Keep these lists alive: the identity map only holds objects weakly.
    users = session.scalars(select(User).where(User.id.in_(user_ids))).all()
    categories = session.scalars(select(Category).where(Category.id.in_(category_ids))).all()
    assert len(users) == len(user_ids) and len(categories) == len(category_ids)

    return [
        {
            "title": post.title,
            "author": post.author.name,  # identity-map hit, no SELECT
            "category": post.category.name,  # identity-map hit, no SELECT
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
