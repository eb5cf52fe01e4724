"""Reads the grading shell's secrets from /proc/<ppid>/environ, and its command line.

attack: the worker's own os.environ is stripped, but its parent — perfkata — still holds
    the full environment, readable at /proc/<ppid>/environ by a process of the same user;
    /proc/<ppid>/cmdline names the results file. Anything that looks like a secret is
    printed to the learner's stderr (a real cheat would send it away). The page is honest,
    so a grade that lets the leak happen passes; a refused read says "cannot read".
kata: n-plus-one-blog
backend: sqlite
expect: cannot read|tampering detected
"""

import os
import re
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

SECRET_NAME = re.compile(rb"SECRET|TOKEN|PASSWORD|KEY|CREDENTIAL", re.IGNORECASE)


def _leak() -> list[str]:
    parent = os.getppid()
    found = []
    for what in ("environ", "cmdline"):
        try:
            with open(f"/proc/{parent}/{what}", "rb") as handle:
                entries = handle.read().split(b"\0")
        except OSError as exc:
            raise PermissionError(f"cannot read /proc/{parent}/{what}: {exc.strerror}") from None
        if what == "environ":
            found += [os.fsdecode(e) for e in entries if SECRET_NAME.search(e.split(b"=")[0])]
    return found


print(f"perfkata attack: leaked {_leak()}", file=sys.stderr)


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
