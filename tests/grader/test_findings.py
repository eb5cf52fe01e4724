"""Every kind of finding, on the katas' own models, with its exact text: an N+1 with the
line that loaded its parents and the fix written into that line, the fix tried and
measured, a repeated statement (text() and the raw driver), a row-by-row write, a column
reload (expired and deferred), and joined collections multiplying rows. In-process
(grader.worker's ops without the worker process), on small datasets, so it stays quick.
That a correct sample learner has no finding is asserted where each kata's correct
samples are graded (tests/grader/test_*learners.py)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select

from perfkata.bench.probes.lazyloads import LazyFix
from perfkata.bench.sourceline import SourceLine
from perfkata.bench.thresholds import Outcome
from perfkata.grader.diagnostics import FINDINGS, Diagnostic
from perfkata.grader.grade import proves_itself, solution_paths
from perfkata.grader.results import Measurement
from perfkata.grader.tryfix import FixPlan, tried_message
from perfkata.grader.worker import (
    WorkerState,
    measure_size,
    op_count,
    op_load,
    op_prepare,
    op_try_fix,
)
from perfkata.katas.base import Kata
from perfkata.katas.cleanup_cron import KATA as CRON
from perfkata.katas.n_plus_one_blog import KATA as BLOG
from perfkata.katas.n_plus_one_blog.models import Post, Tag, post_tags

SEED = 5
LEARNERS = Path(__file__).parents[1] / "learners"
SQL_COMMENTS = (
    "SELECT comments.id, comments.post_id, comments.author_id, comments.body FROM comments "
    "WHERE ? = comments.post_id ORDER BY comments.id"
)


def loaded(kata: Kata, module: Path, tmp_path: Path) -> WorkerState:
    state = WorkerState(scratch=tmp_path)
    op_load(state, {"kata": kata.slug, "module": str(module), "db_url": None, "schema": None})
    return state


def findings(kata: Kata, module: Path, tmp_path: Path, size: int = 50) -> dict[str, list[str]]:
    """The findings of one counted run, by kind."""
    measured = measure_size(loaded(kata, module, tmp_path), size, SEED, memory_seed=None)
    found: dict[str, list[str]] = {}
    for diagnostic in measured["diagnostics"]:
        if diagnostic["kind"] in FINDINGS:
            found.setdefault(diagnostic["kind"], []).append(diagnostic["message"])
    return found


def learner(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(code)
    return path


def test_an_n_plus_one_names_the_parents_line_the_sql_and_the_fix_for_that_query(tmp_path):
    starter = solution_paths(BLOG, tmp_path)["starter"]
    found = findings(BLOG, starter, tmp_path)
    assert found["n+1"][0] == (
        "N+1: Post.comments lazily loaded 50 times at blog.py:24 — add "
        ".options(selectinload(Post.comments)) to the Post query at blog.py:16, which loaded "
        "them: posts = session.scalars(select(Post).options(selectinload(Post.comments))"
        f".order_by(Post.id)).all(); each load ran {SQL_COMMENTS}"
    )
    # a chained load's parents (comments) came from the posts' query: the option goes there
    assert found["n+1"][1].startswith(
        "N+1: Comment.author lazily loaded 33 times at blog.py:26 — add .options(selectinload("
        "Post.comments).joinedload(Comment.author)) to the Post query at blog.py:16, which"
    )
    assert found["n+1"][1].endswith(
        "; each load ran SELECT users.id, users.name FROM users WHERE users.id = ?"
    )


def test_a_query_built_above_the_line_that_runs_it_gets_the_fix_where_it_is_built(tmp_path):
    found = findings(BLOG, LEARNERS / "n_plus_one_blog" / "partial_authors.py", tmp_path)
    assert found["n+1"][0] == (
        "N+1: Post.comments lazily loaded 50 times at partial_authors.py:16 — add "
        ".options(selectinload(Post.comments)) to the Post query at partial_authors.py:19 "
        "(built at line 10), which loaded them: query = select(Post).options(selectinload("
        "Post.comments)).order_by(Post.id).options(joinedload(Post.author), joinedload("
        f"Post.category)); each load ran {SQL_COMMENTS}"
    )


def test_the_fix_is_tried_once_and_its_statements_shown_beside_the_advice(tmp_path):
    state = loaded(BLOG, solution_paths(BLOG, tmp_path)["starter"], tmp_path)
    counted = measure_size(state, 50, SEED, memory_seed=None)["counters"]["statements"]
    reply = op_try_fix(state, {})
    assert reply is not None and reply["statements"] == 2 and counted == 107
    assert reply["message"] == (
        "with .options(joinedload(Post.author), joinedload(Post.category), selectinload("
        "Post.comments).joinedload(Comment.author)) on the query at blog.py:16, your code "
        "runs 2 statements instead of 107 at N=50 (tried)"
    )


def test_advice_not_applied_or_not_helping_is_never_called_tried():
    fix = LazyFix(SourceLine("/work/blog.py", 12), ((Post.comments.property,),))
    plan = FixPlan(800, 1, 803, [fix])
    assert tried_message(plan, [], 803, 800) == (
        "the suggested loader options could not be applied automatically to the query at "
        "blog.py:12 (its statement is not a select() of the parents' entity sent from that "
        "line): add them by hand"
    )
    assert tried_message(plan, [fix], 803, 0) == (
        "with .options(selectinload(Post.comments)) on the query at blog.py:12, your code "
        "still ran 803 statements at N=800 (it ran 803): the options alone do not fix it, "
        "see the other findings"
    )


def test_a_text_query_in_a_loop_is_grouped_by_its_normalised_sql_and_line(tmp_path):
    code = """from sqlalchemy import select, text

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session):
    index = []
    for post in session.scalars(select(Post).order_by(Post.id)).all():
        sql = f"SELECT users.name FROM users WHERE users.id = {post.author_id}"
        index.append(session.execute(text(sql)).scalar_one())
    return index
"""
    found = findings(BLOG, learner(tmp_path, "blog.py", code), tmp_path)
    assert found == {
        "repeated": [
            "this SELECT ran 50 times at blog.py:10 (SELECT users.name FROM users WHERE "
            "users.id = ?) — a query inside a loop; fetch the rows in one query"
        ]
    }


def test_raw_driver_queries_in_a_loop_are_named_at_their_line(tmp_path):
    found = findings(BLOG, LEARNERS / "n_plus_one_blog" / "raw_driver.py", tmp_path)
    assert found == {
        "repeated": [
            "this SELECT ran 50 times at raw_driver.py:14, on the database driver directly "
            "(SELECT users.name FROM comments JOIN users ON users.id = comments.author_id WHERE "
            "comments.post_id = ? ORDER BY comments.id) — a query inside a loop; fetch the rows "
            "in one query"
        ]
    }


def test_the_cleanup_starters_row_by_row_deletes_get_the_katas_batched_delete(tmp_path):
    starter = solution_paths(CRON, tmp_path)["starter"]
    found = findings(CRON, starter, tmp_path, size=500)
    batch = "up to 1,000 ids per statement, and a commit after each batch"
    assert found == {
        "row-by-row": [
            "row-by-row DELETE: this DELETE ran 266 times at cleanup.py:30, one row each "
            "(DELETE FROM user_sessions WHERE user_sessions.id = ?) — delete a batch of rows "
            "with one statement: session.execute(delete(UserSession).where(UserSession.id.in_"
            f"(ids))), {batch}",
            "row-by-row DELETE: this DELETE ran 49 times at cleanup.py:42, one row each "
            "(DELETE FROM uploads WHERE uploads.id = ?) — delete a batch of rows with one "
            f"statement: session.execute(delete(Upload).where(Upload.id.in_(ids))), {batch}",
        ]
    }


def test_columns_expired_by_commit_and_reloaded_per_object_are_named(tmp_path):
    code = """from sqlalchemy import select

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session):
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    session.commit()
    return [post.title for post in posts]
"""
    found = findings(BLOG, learner(tmp_path, "blog.py", code), tmp_path)
    assert found == {
        "reload": [
            "column reload: every column of Post (expired by commit()) reloaded one object at a "
            "time, 50 times at blog.py:9 — keep them loaded: Session(engine, "
            "expire_on_commit=False), or read what you need before commit(), or load the "
            "objects once after it in one query"
        ]
    }


def test_deferred_columns_read_per_object_are_named_with_undefer(tmp_path):
    code = """from sqlalchemy import select
from sqlalchemy.orm import load_only

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session):
    posts = session.scalars(select(Post).options(load_only(Post.title))).all()
    return [len(post.body) for post in posts]
"""
    found = findings(BLOG, learner(tmp_path, "blog.py", code), tmp_path)
    assert found == {
        "reload": [
            "column reload: Post.body (deferred) reloaded one object at a time, 50 times at "
            "blog.py:9 — load them with the objects: .options(undefer(Post.body)) on the "
            "query, or drop the defer()/load_only() that left them out"
        ]
    }


def test_two_joined_collections_multiplying_rows_are_told_to_use_selectinload(tmp_path):
    code = """from sqlalchemy import select
from sqlalchemy.orm import joinedload

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session):
    query = select(Post).options(joinedload(Post.comments), joinedload(Post.tags))
    posts = session.scalars(query.order_by(Post.id)).unique().all()
    return [(len(post.comments), len(post.tags)) for post in posts]
"""
    state = loaded(BLOG, learner(tmp_path, "blog.py", code), tmp_path)
    op_prepare(state, {"size": 50, "seed": SEED})
    assert state.engine is not None
    with state.engine.begin() as connection:  # every post gets every tag: 12 tags a post
        tags = connection.scalars(select(Tag.id)).all()
        posts = connection.scalars(select(Post.id)).all()
        connection.execute(post_tags.delete())
        connection.execute(
            insert(post_tags), [{"post_id": p, "tag_id": t} for p in posts for t in tags]
        )
    found = [d["message"] for d in op_count(state, {})["diagnostics"] if d["kind"] == "cartesian"]
    assert found == [
        "joinedload multiplies rows: the Post query at blog.py:9 fetched 1,656 rows to build "
        "192 objects (joinedload(Post.comments), joinedload(Post.tags): each parent's row comes "
        "back once per child, per combination of children) — use selectinload(Post.comments), "
        "selectinload(Post.tags) instead: one IN query per collection, every row fetched once"
    ]


@pytest.mark.parametrize(
    "name", ["joined_everything.py", "batching_class.py", "raw_sql_text.py", "hand_batched.py"]
)
def test_correct_blog_solutions_of_the_shapes_closest_to_a_finding_have_none(name, tmp_path):
    # joined collections, IN batches from one line, text() SQL, one query per table
    assert findings(BLOG, LEARNERS / "n_plus_one_blog" / name, tmp_path, size=800) == {}


def test_source_lines_of_findings_are_the_learners_never_perfkatas(tmp_path):
    state = loaded(BLOG, solution_paths(BLOG, tmp_path)["starter"], tmp_path)
    measured = measure_size(state, 50, SEED, memory_seed=None)
    files = {d["file"] for d in measured["diagnostics"] if d["kind"] in FINDINGS}
    assert files == {str(solution_paths(BLOG, tmp_path)["starter"])}
    assert SourceLine(files.pop(), 16).short() == "blog.py:16"


def test_the_fix_is_tried_only_on_a_failing_grade_with_a_right_answer_and_an_n_plus_one():
    n_plus_one = Diagnostic("lazy_loads", "N+1: …", kind="n+1")
    loop = Diagnostic("statements", "this SELECT ran …", kind="repeated")

    def result(outcomes, diagnostics, mismatch=None):
        learner = Measurement("learner", {}, diagnostics, mismatch)
        checks = [SimpleNamespace(outcome=outcome) for outcome in outcomes]
        return SimpleNamespace(measurements={"learner": learner}, checks=checks)

    assert proves_itself(result([Outcome.PASS, Outcome.FAIL], [n_plus_one]))
    assert not proves_itself(result([Outcome.PASS, Outcome.NOT_RUN], [n_plus_one]))  # passing
    assert not proves_itself(result([Outcome.FAIL], [loop]))  # no N+1 to fix
    assert not proves_itself(result([Outcome.FAIL], [n_plus_one], mismatch="wrong output"))
