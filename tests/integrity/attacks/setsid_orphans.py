"""Leaves twenty processes behind, each in a session of its own (start_new_session).

attack: at import the solution starts 20 `sleep`-like Python processes with
    start_new_session=True, out of the worker's process group, which is all the grader
    kills, and without the grade's owner tag (GRADE_OWNER) in their environment, which
    the next grade's sweep looks for: they outlive the grade under pid 1. render_index
    keeps the starter's N+1 (the grade fails on its own; what is judged is what is left).
    Each is recorded in <this file's stem>.escape.json (pid, sid, pgid, pid namespace).
kata: n-plus-one-blog
backend: sqlite
escape: yes
expect: every process dies with the grade|subreaper kills escaped processes
"""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

RECORD_DIR = None  # the test may write a folder here when it copies the attack
RECORD = Path(RECORD_DIR or Path(__file__).parent) / (Path(__file__).stem + ".escape.json")
SLEEPER = "import time\ntime.sleep(120)\n"  # bounded, should a fence fail


def _namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _leave_orphans(count: int) -> None:
    escapees = []
    for _ in range(count):
        child = subprocess.Popen(
            [sys.executable, "-c", SLEEPER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if k != "GRADE_OWNER"},  # no owner tag
        )
        escapees.append({"pid": child.pid, "sid": child.pid, "pgid": child.pid})
    for escapee in escapees:
        escapee["ns"] = _namespace()  # the children share the worker's pid namespace
    # Nowhere to say where they are (a read-only file system): they stay all the same,
    # unseen by the test; only a fence that kills every process of the grade ends them.
    with contextlib.suppress(OSError):
        RECORD.write_text(json.dumps({"escapees": escapees}))


_leave_orphans(20)


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
