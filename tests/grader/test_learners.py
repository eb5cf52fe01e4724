"""Sample learner solutions get the right verdict and the right message.

Timing is off here (tests never depend on wall-clock time): these are the deterministic
checks, with a fixed seed, run through the real worker processes.
"""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.errors import ExitCode, LearnerCodeError
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.n_plus_one_blog import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "n_plus_one_blog"


def graded(name: str, db_url: str | None = None, **options):
    return grade(
        KATA, LEARNERS / name, GradeOptions(seed=3, timing=False, db_url=db_url, **options)
    )


def failed(result) -> set[str]:
    return {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}


def messages(result) -> list[str]:
    return [d.message for c in result.checks for d in c.diagnostics]


def test_partial_fix_fails_on_comments_and_names_them(db_url):
    result = graded("partial_authors.py", db_url)
    assert failed(result) == {"statements-flat", "statements-vs-reference", "no-lazy-loads"}
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
    assert failed(result) == {"no-unused-eager", "statements-vs-reference"}
    assert (
        "AVOID eager loading: Post.tags is loaded but never used — remove selectinload("
        "Post.tags)" in messages(result)
    )


def test_wrong_output_scores_zero_and_shows_the_first_difference():
    result = graded("wrong_output.py")
    assert result.gate_failed and result.score == 0
    assert "commenters" in messages(result)[0]
    assert result.exit_code == ExitCode.FAILED


@pytest.mark.parametrize("name", ["hand_batched.py", "subquery_fix.py"])
def test_correct_fixes_written_other_ways_pass_every_counted_check(name, db_url):
    result = graded(name, db_url)
    assert failed(result) == set()
    assert result.verdict is Outcome.PASS and result.score == KATA.max_points - 10
    assert [c.check.id for c in result.checks if c.outcome is Outcome.NOT_RUN] == ["speedup"]


def test_query_loop_without_relationships_is_caught_by_counting():
    result = graded("loop_of_gets.py")
    assert {"statements-flat", "statements-vs-reference"} <= failed(result)
    assert any(
        m.startswith("the same statement ran 800 times at loop_of_gets.py:15")
        for m in messages(result)
    )


def test_raw_driver_queries_are_counted_anyway():
    result = graded("raw_driver.py")
    assert "statements-flat" in failed(result)
    assert any("directly, around SQLAlchemy" in m for m in messages(result))


def test_raw_psycopg_queries_are_counted_on_postgresql(real_postgres_url):
    result = graded("raw_driver_pg.py", db_url=real_postgres_url)
    counters = result.measurements["learner"].counters[800]
    assert counters["bypassed_statements"] == 800 and counters["orm_statements"] == 1
    assert "statements-flat" in failed(result)
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
