"""A typo: AttributeError in the learner's own line."""

from sqlalchemy import select

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session):
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    return [{"title": post.titel} for post in posts]
