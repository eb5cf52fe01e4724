"""Switches off the driver trace on the session's own connection, then runs raw SQL on it.

attack: conn.set_trace_callback(None) on the DBAPI connection the session checked out
    (where the probe attached its counting callback), then one raw SELECT per post on
    that connection's cursor: SQLAlchemy never saw them, and the driver no longer tells.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected|statements flat as N grows.*FAIL
"""

from sqlalchemy.orm import Session

POSTS = (
    "SELECT posts.id, posts.title, users.name, categories.name FROM posts "
    "JOIN users ON users.id = posts.author_id "
    "JOIN categories ON categories.id = posts.category_id ORDER BY posts.id"
)
COMMENTERS = (
    "SELECT users.name FROM comments JOIN users ON users.id = comments.author_id "
    "WHERE comments.post_id = ? ORDER BY comments.id"
)


def render_index(session: Session) -> list[dict]:
    raw = session.connection().connection.driver_connection
    raw.set_trace_callback(None)
    index = []
    for post_id, title, author, category in raw.execute(POSTS).fetchall():
        names = [name for (name,) in raw.execute(COMMENTERS, (post_id,)).fetchall()]
        index.append(
            {
                "title": title,
                "author": author,
                "category": category,
                "comment_count": len(names),
                "commenters": names,
            }
        )
    return index
