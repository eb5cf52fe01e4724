"""learner: Dana, distrusts ORM magic and batches by hand.
mistake: loads the posts, then for every chunk of 10 posts runs one IN query for the
comments and one for the users they need. Far fewer statements than the starter, but
still O(N/10): 50 posts -> ~11, 800 posts -> ~161 statements.
expected: "statements stay flat as posts grow" fails (grows linearly, 1 per 10 posts,
far above 1 per 500 rows); lazy loads 0,
output correct.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post, User

CHUNK = 10  # "small IN lists are faster"


def render_index(session: Session) -> list[dict]:
    posts = session.execute(
        select(Post.id, Post.title, Post.author_id, Post.category_id).order_by(Post.id)
    ).all()
    categories = dict(session.execute(select(Category.id, Category.name)).all())
    index = []
    for start in range(0, len(posts), CHUNK):
        chunk = posts[start : start + CHUNK]
        ids = [p.id for p in chunk]
        comments = session.execute(
            select(Comment.post_id, Comment.author_id)
            .where(Comment.post_id.in_(ids))
            .order_by(Comment.id)
        ).all()
        user_ids = {p.author_id for p in chunk} | {c.author_id for c in comments}
        users = dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
        by_post: dict[int, list[str]] = {pid: [] for pid in ids}
        for c in comments:
            by_post[c.post_id].append(users[c.author_id])
        for p in chunk:
            index.append(
                {
                    "title": p.title,
                    "author": users[p.author_id],
                    "category": categories[p.category_id],
                    "comment_count": len(by_post[p.id]),
                    "commenters": by_post[p.id],
                }
            )
    return index
