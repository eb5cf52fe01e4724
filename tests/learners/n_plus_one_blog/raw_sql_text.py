"""A correct fix in plain SQL through SQLAlchemy's text(): two queries whatever the number
of posts — the posts with their author and category joined, then every comment with its
author's name — stitched together in Python."""

from itertools import groupby

from sqlalchemy import text
from sqlalchemy.orm import Session

POSTS = text(
    """
    SELECT p.id, p.title, u.name AS author, c.name AS category
    FROM posts p
    JOIN users u ON u.id = p.author_id
    JOIN categories c ON c.id = p.category_id
    ORDER BY p.id
    """
)
COMMENTERS = text(
    """
    SELECT cm.post_id, u.name
    FROM comments cm
    JOIN users u ON u.id = cm.author_id
    ORDER BY cm.post_id, cm.id
    """
)


def render_index(session: Session) -> list[dict]:
    commenters = {
        post_id: [name for _, name in rows]
        for post_id, rows in groupby(session.execute(COMMENTERS), key=lambda row: row[0])
    }
    index = []
    for row in session.execute(POSTS).mappings():
        names = commenters.get(row["id"], [])
        index.append(
            {
                "title": row["title"],
                "author": row["author"],
                "category": row["category"],
                "comment_count": len(names),
                "commenters": names,
            }
        )
    return index
