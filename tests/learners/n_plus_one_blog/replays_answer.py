"""A cheat: computes the page once per dataset size, keeps it in a temporary file, and
serves that file to every later grade — whose dataset has another seed."""

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

# A fixed folder, not tempfile.gettempdir(): a grade gives its worker a temp folder of
# its own, removed with the grade, so a cheat that means to last writes elsewhere.
FOLDER = Path("/tmp/perfkata-test-replayed-answers")


def render_index(session):
    saved = FOLDER / f"{session.scalar(select(func.count(Post.id)))}.json"
    if saved.exists():
        return json.loads(saved.read_text())
    FOLDER.mkdir(exist_ok=True)
    page = build(session)
    saved.write_text(json.dumps(page))
    return page


def build(session):
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
        for post in session.scalars(query).unique()
    ]
