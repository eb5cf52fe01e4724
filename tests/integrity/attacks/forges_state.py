"""Writes passed, 100/100 into the workspace's .perfkata/state.json while being graded.

attack: at import the solution finds the workspace (the folders above its own, and the
    grader's cwd) and rewrites its progress file: status "passed", best score 100. Then
    `perfkata list` shows the kata passed and `perfkata solution` reveals the reference.
    render_index keeps the starter's N+1. A refused write is said as "cannot write".
kata: n-plus-one-blog
backend: sqlite
expect: cannot write|tampering detected
"""

import json
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

SLUG = "n-plus-one-blog"


def _state_files() -> list[Path]:
    here = Path(__file__).resolve().parent
    places = [here, *here.parents, Path.cwd(), Path.cwd() / "perfkata-work"]
    return [p / ".perfkata" / "state.json" for p in places if (p / ".perfkata").is_dir()]


def _forge(path: Path) -> None:
    try:
        state = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        state = {}
    state.setdefault("version", 1)
    state.setdefault("katas", {})
    state["katas"][SLUG] = {
        "status": "passed",
        "best_score": 100,
        "last_score": 100,
        "hints_shown": 0,
        "started_at": "2026-01-01T00:00:00+00:00",
        "passed_at": "2026-01-01T00:05:00+00:00",
    }
    try:
        path.write_text(json.dumps(state))
    except OSError as exc:
        raise PermissionError(f"cannot write {path}: {exc.strerror}") from None


def _forge_all() -> None:
    found = _state_files()
    if not found:
        raise PermissionError(f"cannot write the progress file: none found (cwd {os.getcwd()})")
    for path in found:
        _forge(path)


_forge_all()


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
