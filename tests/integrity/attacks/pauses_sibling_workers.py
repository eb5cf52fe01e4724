"""Freezes the starter's and the reference's workers most of the time, so they time slow.

attack: the three workers are children of the same perfkata process and, today, of the
    same user: a daemon thread started at import sends SIGSTOP / SIGCONT to its siblings
    (found by parent pid in /proc, not by name) so they run 1 ms in 20. Each times itself
    with its own clock, so the starter's samples grow many times and the learner's speed-up
    with them. The page has the right statements but sleeps 0.5 s per call, which fails
    the speed-up check on an honest grade. A refused signal says "cannot signal".
kata: n-plus-one-blog
backend: sqlite
timing: yes
expect: tampering detected|cannot signal|speed-up vs starter.*FAIL
"""

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def _siblings() -> list[int]:
    me, parent = os.getpid(), os.getppid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _freeze(pids: list[int]) -> None:
    while True:
        for how, pause in ((signal.SIGSTOP, 0.019), (signal.SIGCONT, 0.001)):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, how)
            time.sleep(pause)


def _start() -> None:
    pids = _siblings()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except PermissionError as exc:
            raise PermissionError(f"cannot signal sibling worker {pid}: {exc}") from None
    threading.Thread(target=_freeze, args=(pids,), daemon=True).start()


_start()


def render_index(session: Session) -> list[dict]:
    time.sleep(0.5)
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
