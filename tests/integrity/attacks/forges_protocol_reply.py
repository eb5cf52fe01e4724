"""Writes its own "measure" reply straight into the worker's private reply pipe.

attack: the worker keeps a private copy of its stdout for the protocol (an inherited
    pipe fd, write-only, not the stderr pipe behind fds 1 and 2); the learner's code can
    find it in /proc/self/fd and write a JSON line the parent will take for the worker's
    answer. render_index keeps the starter's N+1 and remembers its right outputs; in the
    last call of the measure request it writes a reply with those outputs, flat
    statements, no lazy loads, small memory and no memory pass (whose absence the parent
    does not question). The worker's real reply follows and is read by no one.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected|no reply pipe found
"""

import json
import os
import stat
import tracemalloc

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog import KATA
from perfkata.katas.n_plus_one_blog.models import Post

_outputs: dict[int, list[dict]] = {}


def _reply_pipe() -> int:
    """The protocol's write end: a pipe opened write-only that is not stderr's pipe."""
    stderr_pipe = os.fstat(2).st_ino
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < 3:
            continue
        try:
            info = os.fstat(fd)
            with open(f"/proc/self/fdinfo/{fd}") as fdinfo:
                flags = fdinfo.read().split("flags:")[1].split()[0]
        except (OSError, IndexError):
            continue
        writes = int(flags, 8) & os.O_WRONLY
        if stat.S_ISFIFO(info.st_mode) and writes and info.st_ino != stderr_pipe:
            return fd
    raise LookupError("no reply pipe found")


def _forged_reply() -> str:
    sizes = []
    for size in KATA.sizes:
        counters = {
            "statements": 3,
            "orm_statements": 3,
            "driver_statements": 3,
            "bypassed_statements": 0,
            "lazy_loads": 0,
            "unused_eager_loads": 0,
        }
        if size in KATA.memory_sizes:
            counters["peak_bytes"] = 5_000_000
        sizes.append({"size": size, "counters": counters, "output": _outputs[size]})
    for entry in sizes:
        entry["diagnostics"] = []
    return json.dumps({"ok": True, "result": {"sizes": sizes}}) + "\n"


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    page = [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in posts
    ]
    size = len(posts)
    if not tracemalloc.is_tracing():  # a counted run: the memory pass has other rows
        _outputs[size] = page
    last = size == max(KATA.sizes) and (tracemalloc.is_tracing() or not KATA.memory_sizes)
    if last and set(_outputs) >= set(KATA.sizes):
        os.write(_reply_pipe(), _forged_reply().encode())
    return page
