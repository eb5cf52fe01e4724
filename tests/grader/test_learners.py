"""Sample learner solutions get the right verdict and the right message.

Timing is off here (tests never depend on wall-clock time): these are the deterministic
checks, with a fixed seed, run through the real worker processes.
"""

import io
from pathlib import Path

import pytest
from rich.console import Console

from perfkata.bench.thresholds import Outcome
from perfkata.errors import ExitCode, LearnerCodeError
from perfkata.grader.diagnostics import FINDINGS
from perfkata.grader.grade import GradeOptions, grade
from perfkata.grader.report import advice_notes, render_grade, render_json
from perfkata.katas.n_plus_one_blog import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "n_plus_one_blog"


def graded(name: str, db_url: str | None = None, **options):
    return grade(
        KATA, LEARNERS / name, GradeOptions(seed=3, timing=False, db_url=db_url, **options)
    )


def failed(result) -> set[str]:
    return {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}


def messages(result) -> list[str]:
    return [d.message for c in result.checks for d in c.diagnostics]


def findings(result) -> list[str]:
    """Every finding the learner's counted run produced, shown or not."""
    return [d.message for d in result.measurements["learner"].diagnostics if d.kind in FINDINGS]


def test_partial_fix_fails_on_comments_and_names_them(db_url):
    result = graded("partial_authors.py", db_url)
    assert failed(result) == {"statements-flat", "no-lazy-loads"}
    relationships = {m.split(" lazily")[0] for m in messages(result) if m.startswith("N+1")}
    assert relationships == {"N+1: Post.comments", "N+1: Comment.author"}
    assert any(
        "partial_authors.py:17" in m
        and "selectinload(Post.comments).joinedload(Comment.author)" in m
        for m in messages(result)
    )
    assert result.exit_code == ExitCode.FAILED


def test_over_eager_fix_fails_only_on_the_extra_load():
    result = graded("over_eager.py")
    assert failed(result) == {"no-unused-eager"}
    assert (
        "AVOID eager loading: Post.tags is loaded but never used — remove selectinload("
        "Post.tags)" in messages(result)
    )


def test_wrong_output_scores_zero_and_shows_the_first_difference():
    result = graded("wrong_output.py")
    assert result.gate_failed and result.score == 0
    assert "commenters" in messages(result)[0]
    assert result.exit_code == ExitCode.FAILED


CORRECT = [
    "hand_batched.py",  # one column query per table, ids with IN, dicts
    "subquery_fix.py",  # joinedload + subqueryload, a comprehension
    "selectin_everything.py",  # selectinload for every relationship (Rails' includes)
    "contains_eager_join.py",  # the JOIN fills author and category; names read from rows
    "batching_class.py",  # small classes, IN in chunks of 250 (4 -> 10 statements)
    "raw_sql_text.py",  # two text() queries, groupby in Python
    "joined_everything.py",  # joinedload for all, the collection too, .unique()
    "quadratic_join.py",  # loads right (4 statements) but joins in O(posts x comments)
    "identity_map_priming.py",  # flat queries, set_committed_value, identity-map lookups
    "raiseload_guard.py",  # joinedload everything plus raiseload("*")
    "load_only_lean.py",  # the reference's loaders narrowed with load_only
    "class_renderer_get.py",  # a renderer class; Session.get answered by the identity map
    "contains_eager_outer_joins.py",  # explicit LEFT JOINs, aliased users, contains_eager
]


@pytest.mark.parametrize("name", CORRECT)
def test_correct_fixes_of_every_shape_pass_every_counted_check(name, db_url):
    result = graded(name, db_url)
    assert failed(result) == set()
    assert findings(result) == []  # no finding of any kind on a correct solution
    assert result.verdict is Outcome.PASS and result.score == KATA.max_points - 10
    assert [c.check.id for c in result.checks if c.outcome is Outcome.NOT_RUN] == ["speedup"]


def test_selectinload_for_everything_passes_with_notes_on_cheaper_loaders():
    # Given selectinload for each many-to-one too: 8 statements at 800 posts, reference 3
    result = graded("selectin_everything.py")
    assert result.measurements["learner"].counters[800]["statements"] == 8
    # Then it passes, and a note (not a check) says where joinedload saves round trips
    assert result.verdict is Outcome.PASS
    notes = advice_notes(result)
    assert any(
        n.startswith("Post.author is many-to-one and selectinload loaded it in 2 extra")
        and n.endswith(
            "joinedload(Post.author) would fetch it with its parent's rows and save 2 round trips"
        )
        for n in notes
    )
    assert any("selectinload(Post.comments).joinedload(Comment.author)" in n for n in notes)
    console = Console(record=True, width=300, file=io.StringIO(), color_system=None)
    render_grade(result, console, plain=True)
    render_json(result, console)
    text = console.export_text()
    assert "note: Post.category is many-to-one" in text
    assert '"Post.category is many-to-one and selectinload loaded it in 1 extra' in text


def test_contains_eager_is_neither_unused_nor_advised_against():
    result = graded("contains_eager_join.py")
    assert failed(result) == set() and advice_notes(result) == []
    assert not any("joinedload" in d.message for d in result.measurements["learner"].diagnostics)


def test_a_quadratic_python_join_is_told_the_queries_are_fine():
    # Given a correct-loading solution that joins in Python with a loop inside a loop
    diagnostics = graded("quadratic_join.py").measurements["learner"].diagnostics
    # Then what explains a missed speed-up points at its Python code, not at the queries
    (speed,) = [d for d in diagnostics if d.metric == "speedup"]
    assert speed.message.startswith("the queries are not what is slow (4 statements")
    assert "`perfkata profile` names your hottest line" in speed.message


def test_no_python_time_advice_while_queries_run_per_post():
    diagnostics = graded("partial_authors.py").measurements["learner"].diagnostics
    assert [d for d in diagnostics if d.metric == "speedup"] == []


def test_hand_batches_of_ten_grow_with_n_and_name_the_loop():
    result = graded("batch_per_10.py")
    assert failed(result) == {"statements-flat"}
    assert any(
        m.startswith("this SELECT ran 80 times at batch_per_10.py:27 (SELECT comments.post_id")
        for m in messages(result)
    )


def test_a_chained_n_plus_one_names_the_nested_relationship_and_its_option():
    result = graded("chained_n_plus_one.py")
    assert "no-lazy-loads" in failed(result)
    assert any(
        m.startswith("N+1: Comment.author lazily loaded")
        and "chained_n_plus_one.py:33" in m
        and "add .options(selectinload(Post.comments).joinedload(Comment.author)) to the "
        "Post query at chained_n_plus_one.py:26"
        in m
        for m in messages(result)
    )


def test_a_lazy_load_inside_a_helper_is_found_at_the_helpers_line():
    # Few categories: statements look almost flat, the lazy loads do not
    result = graded("lazy_in_helper.py")
    assert failed(result) == {"no-lazy-loads"}
    assert (
        "N+1: Post.category lazily loaded 8 times at lazy_in_helper.py:21 — add "
        ".options(joinedload(Post.category)) to the Post query at lazy_in_helper.py:33 (built "
        "at line 26), which loaded them: select(Post).options(joinedload(Post.category)); each "
        "load ran SELECT categories.id, categories.name FROM categories WHERE categories.id = ?"
        in messages(result)
    )
    # the fix, tried in the learner's worker: one statement instead of nine
    assert (
        "with .options(joinedload(Post.category)) on the query at lazy_in_helper.py:33, your "
        "code runs 1 statement instead of 9 at N=800 (tried)" in messages(result)
    )


def test_a_page_memoised_per_database_and_count_fails_the_gate():
    # Given a memo keyed by the database URL and the post count, right for each fresh database
    result = graded("module_memo.py")
    # Then a run on changed data of the same size catches it: a wrong answer, score 0
    assert failed(result) == {"correct"} and result.score == 0
    assert messages(result)[0].startswith("wrong output: returned a result memoised")


def test_an_inner_join_that_drops_posts_without_comments_fails_the_gate():
    result = graded("inner_join_eager.py")
    assert result.gate_failed and result.score == 0
    assert messages(result)[0].startswith("wrong output: at size 50")


def test_query_loop_without_relationships_is_caught_by_counting():
    result = graded("loop_of_gets.py")
    assert "statements-flat" in failed(result)
    assert any(
        m.startswith("this SELECT ran 800 times at loop_of_gets.py:15 (SELECT users.name")
        for m in messages(result)
    )


def test_raw_driver_queries_are_counted_anyway_and_their_line_named():
    result = graded("raw_driver.py")
    assert "statements-flat" in failed(result)
    assert any("directly, around SQLAlchemy" in m for m in messages(result))
    assert any(
        m.startswith(
            "this SELECT ran 800 times at raw_driver.py:14, on the database driver directly "
            "(SELECT users.name"
        )
        for m in messages(result)
    )


def test_raw_psycopg_queries_are_counted_on_postgresql(real_postgres_url):
    result = graded("raw_driver_pg.py", db_url=real_postgres_url)
    counters = result.measurements["learner"].counters[800]
    assert counters["bypassed_statements"] == 800 and counters["orm_statements"] == 1
    assert "statements-flat" in failed(result)
    assert any(
        m.startswith("this SELECT ran 800 times at raw_driver_pg.py:") for m in messages(result)
    )
    reference = result.measurements["reference"].counters[800]
    assert reference["driver_statements"] == reference["orm_statements"]  # no false alarm


def test_syntax_error_is_reported_at_its_line():
    with pytest.raises(LearnerCodeError) as caught:
        graded("syntax_error.py")
    assert caught.value.line == 5
    assert "Syntax error in syntax_error.py:5" in caught.value.message


def test_exception_is_reported_at_the_learners_line():
    with pytest.raises(LearnerCodeError) as caught:
        graded("raises.py")
    assert caught.value.line == 10
    assert caught.value.message.startswith("AttributeError: 'Post' object has no attribute")
    assert "raises.py:10" in caught.value.message


def test_infinite_loop_times_out_and_says_where():
    with pytest.raises(LearnerCodeError) as caught:
        graded("infinite_loop.py", timeout=2)
    assert "did not finish within 2 s" in caught.value.message
    assert caught.value.line in (6, 7)


def test_exiting_the_process_is_an_error_not_a_pass():
    with pytest.raises(LearnerCodeError, match="ended its process"):
        graded("exits.py")
