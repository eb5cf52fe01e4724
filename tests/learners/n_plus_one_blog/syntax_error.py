from sqlalchemy import select


def render_index(session):
    posts = session.scalars(select(Post).order_by(Post.id)).all(
    return posts
