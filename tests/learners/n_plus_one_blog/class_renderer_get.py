"""learner: Aiko, Java background; wants a renderer object and a lookup table.
approach: an IndexRenderer class. Categories are few, so it loads them all once and then
resolves each post's category with Session.get, which hits the identity map (no SQL).
Posts come with joinedload(author) and selectinload(comments) -> joinedload(author).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.katas.n_plus_one_blog.models import Category, Comment, Post


@dataclass
class IndexRenderer:
    session: Session
    _categories: Sequence[Category] = ()

    def _warm_categories(self) -> None:
        # One query; afterwards Session.get(Category, id) is answered from the identity map.
        # Keep the list: the identity map holds objects weakly, so a discarded result would
        # be garbage-collected and every Session.get would go back to the database.
        self._categories = self.session.scalars(select(Category)).all()

    def _category_name(self, category_id: int) -> str:
        category = self.session.get(Category, category_id)
        assert category is not None
        return category.name

    def _posts(self) -> list[Post]:
        stmt = (
            select(Post)
            .order_by(Post.id)
            .options(
                joinedload(Post.author),
                selectinload(Post.comments).joinedload(Comment.author),
            )
        )
        return list(self.session.scalars(stmt))

    def _entry(self, post: Post) -> dict:
        return {
            "title": post.title,
            "author": post.author.name,
            "category": self._category_name(post.category_id),
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }

    def render(self) -> list[dict]:
        self._warm_categories()
        return [self._entry(post) for post in self._posts()]


def render_index(session: Session) -> list[dict]:
    return IndexRenderer(session).render()
