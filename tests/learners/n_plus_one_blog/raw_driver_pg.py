"""Hides an N+1 from SQLAlchemy by running the per-post queries on the raw psycopg connection (PostgreSQL)."""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session: Session) -> list[dict]:
    query = select(Post).order_by(Post.id).options(joinedload(Post.author), joinedload(Post.category))
    raw = session.connection().connection.driver_connection
    index = []
    for post in session.scalars(query):
        rows = raw.execute(
            "SELECT users.name FROM comments JOIN users ON users.id = comments.author_id "
            "WHERE comments.post_id = %s ORDER BY comments.id",
            (post.id,),
        ).fetchall()
        index.append(
            {
                "title": post.title,
                "author": post.author.name,
                "category": post.category.name,
                "comment_count": len(rows),
                "commenters": [name for (name,) in rows],
            }
        )
    return index
