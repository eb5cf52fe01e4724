"""Writes files outside its own folder while graded: beside the workspace and in perfkata's cache.

attack: the page is honest, but on import the solution drops a file in the folder above
    its own (the workspace root's parent side) and one in the grade's process's HOME; a
    learner's code should have a private scratch folder and nothing else writable. If a
    write is refused the solution says "cannot write" and stops.
kata: n-plus-one-blog
backend: sqlite
expect: cannot write|tampering detected
"""

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

MARK = "perfkata-attack-wrote-here"


def _write_outside() -> None:
    targets = [Path(__file__).resolve().parent.parent / MARK]
    if os.environ.get("HOME"):
        targets.append(Path(os.environ["HOME"]) / f".{MARK}-{os.getpid()}")
    for target in targets:
        try:
            target.write_text("written by the learner's code during a grade\n")
        except OSError as exc:
            raise PermissionError(f"cannot write {target}: {exc.strerror}") from None
        if target.parent != Path(__file__).resolve().parent.parent:
            target.unlink()  # HOME is the developer's: proven, not littered


_write_outside()


def render_index(session: Session) -> list[dict]:
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
    )
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in session.scalars(query)
    ]
