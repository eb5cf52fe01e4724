"""Raw SQL on PostgreSQL through a psycopg `connect` bound before the probe patches it.

attack: `from psycopg import connect` at import keeps the unpatched function; render_index
    opens its own connection to the grade's schema (URL and search_path read from the
    session's engine) and runs one raw SELECT per post with psycopg's own cursor.
kata: n-plus-one-blog
backend: postgresql
expect: tampering detected|statements flat as N grows.*FAIL|Network is unreachable
"""

from psycopg import connect
from sqlalchemy.orm import Session

POSTS = (
    "SELECT posts.id, posts.title, users.name, categories.name FROM posts "
    "JOIN users ON users.id = posts.author_id "
    "JOIN categories ON categories.id = posts.category_id ORDER BY posts.id"
)
COMMENTERS = (
    "SELECT users.name FROM comments JOIN users ON users.id = comments.author_id "
    "WHERE comments.post_id = %s ORDER BY comments.id"
)


def render_index(session: Session) -> list[dict]:
    url = session.get_bind().url
    raw = connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        options=url.query.get("options", ""),
    )
    try:
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
    finally:
        raw.close()
