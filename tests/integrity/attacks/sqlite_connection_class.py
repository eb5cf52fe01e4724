"""Raw SQL on `sqlite3.Connection(path)`: the class itself, never the patched sqlite3.connect.

attack: render_index constructs sqlite3.Connection on the grade's database file and runs
    one raw SELECT per post; the probe only wraps sqlite3.connect and the engine's pool.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected|statements flat as N grows.*FAIL
"""

import sqlite3

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
    raw = sqlite3.Connection(session.get_bind().url.database)
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
