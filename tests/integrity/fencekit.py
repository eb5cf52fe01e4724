"""Shared by the fence tests: a workspace holding a correct n-plus-one-blog solution with
an attack appended, graded by a real `perfkata grade --no-timing`, and a way to tell
which host process holds the other end of a TCP connection (how an escaped process is
found again: by its session and process group, never by its name)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from clirun import perfkata_env

SOLUTION = """
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post


def render_index(session: Session) -> list[dict]:
    posts = session.scalars(
        select(Post)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
        .order_by(Post.id)
    ).all()
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
"""


def workspace_with(tmp_path: Path, attack: str) -> tuple[Path, Path]:
    """A started workspace (as `perfkata start` leaves it) whose blog.py is the correct
    solution plus `attack`, run at import. (workspace, blog.py)"""
    ws = tmp_path / "ws"
    done = perfkata_env({}, "start", "n-plus-one-blog", "--dir", str(ws), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    blog = ws / "n-plus-one-blog" / "blog.py"
    blog.write_text(SOLUTION + "\n" + textwrap.dedent(attack), encoding="utf-8")
    return ws, blog


def grade(
    ws: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return perfkata_env(
        env or {}, "grade", "n-plus-one-blog", "--no-timing", "--dir", str(ws), *extra, cwd=ws
    )


def socket_owner(conn: socket.socket) -> int | None:
    """The host pid holding the peer end of an accepted loopback connection: its port in
    /proc/net/tcp gives the socket's inode, an fd link `socket:[inode]` gives the pid."""
    port = conn.getpeername()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inode = fields[9]
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"{entry.path}/fd"):
                if os.readlink(fd.path) == wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None


def group_and_session(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[3])


def members(pgid: int, sid: int) -> list[int]:
    """Live (not zombie) processes in that process group or session."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and (int(fields[2]) == pgid or int(fields[3]) == sid):
                found.append(int(entry.name))
    return found


def listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(120)  # a hang guard
    return server
