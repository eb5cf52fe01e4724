"""Remembers the rendered page in a module global, keyed by the number of posts, around
a slow quadratic loop: every request after the first returns the memo — stale as soon
as a title, a comment or an author changes without the post count changing."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Comment, Post

_PAGES: dict[int, list[dict]] = {}


def render_index(session: Session) -> list[dict]:
    count = session.scalar(select(func.count(Post.id)))
    if count not in _PAGES:
        _PAGES[count] = build(session)
    return _PAGES[count]


def build(session: Session) -> list[dict]:
    query = select(Post).options(
        joinedload(Post.author),
        joinedload(Post.category),
        selectinload(Post.comments).joinedload(Comment.author),
    )
    posts = list(session.scalars(query).unique())
    ordered = []
    while posts:  # a selection sort by id: quadratic in the number of posts
        first = min(posts, key=lambda p: p.id)
        posts.remove(first)
        ordered.append(first)
    return [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [c.author.name for c in sorted(post.comments, key=lambda c: c.id)],
        }
        for post in ordered
    ]
