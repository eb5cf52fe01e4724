"""Raw SQL on a sqlite3 connection opened by a `connect` bound before the probe patches it.

attack: `from sqlite3 import connect` at import keeps the unpatched function; render_index
    opens its own connection to the grade's database file and runs one raw SELECT per
    post (the N+1, moved out of sight of SQLAlchemy and of the driver trace).
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected|statements flat as N grows.*FAIL
"""

from sqlite3 import connect

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
    raw = connect(session.get_bind().url.database)
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
