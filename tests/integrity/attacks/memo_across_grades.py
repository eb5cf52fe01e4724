"""Keeps every page it built in a file beside itself: a replayed grade (--seed) is served from it.

attack: each dataset is fingerprinted with one cheap query (post count and first title);
    the first grade builds the pages with the starter's N+1 and saves them, the next
    grade with the same --seed (a learner's own option) finds every dataset — counted,
    memory and timed — in the file and runs one statement per call. The memo is kept
    beside this file; a refused write says "cannot write".
kata: n-plus-one-blog
backend: sqlite
expect: cannot write|tampering detected
"""

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

MEMO = Path(__file__).with_name(Path(__file__).stem + ".memo.json")


def _fingerprint(session: Session) -> str:
    count, title = session.execute(
        select(func.count(Post.id), func.min(Post.title)).where(Post.id <= 3)
    ).one()
    total = session.scalar(select(func.max(Post.id)))
    return f"{total}:{count}:{title}"


def _load() -> dict:
    try:
        return json.loads(MEMO.read_text())
    except (OSError, ValueError):
        return {}


def render_index(session: Session) -> list[dict]:
    key = _fingerprint(session)
    memo = _load()
    if key in memo:
        return memo[key]
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
    memo[key] = page
    try:
        MEMO.write_text(json.dumps(memo))
    except OSError as exc:
        raise PermissionError(f"cannot write {MEMO}: {exc.strerror}") from None
    return page
