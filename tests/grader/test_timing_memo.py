"""Every measured run does the work it claims: a page memoised in a module global (keyed
by the post count) meets changed data in the memory pass and fails the correctness gate
with a message that says so, instead of passing at 500x and 0 bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkata.errors import LearnerCodeError
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.n_plus_one_blog import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "n_plus_one_blog"


def test_a_memo_of_an_earlier_request_fails_the_gate_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFKATA_CACHE_DIR", str(tmp_path))
    # Given a solution that returns the page it rendered for the first request
    result = grade(KATA, LEARNERS / "memoised.py", GradeOptions(seed=5, timing=False))
    # Then the gate fails (score 0), naming the memo, not a mystery difference
    assert result.gate_failed and result.score == 0
    message = result.measurements["learner"].mismatch or ""
    assert message.startswith("returned a result memoised from an earlier request")
    assert "at size 800" in message


def test_a_loop_that_never_ends_is_still_called_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFKATA_CACHE_DIR", str(tmp_path))
    options = GradeOptions(seed=5, timing=False, timeout=3)
    with pytest.raises(LearnerCodeError) as caught:
        grade(KATA, LEARNERS / "infinite_loop.py", options)
    assert "did not finish within 3 s" in caught.value.message
    assert "too slow" not in caught.value.message
    assert "never ends" in (caught.value.hint or "")
