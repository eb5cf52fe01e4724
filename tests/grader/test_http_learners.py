"""Sample http-caching solutions, written in different shapes by different hands, graded
end to end (worker processes, the parent's caches and oracle): every correct one passes
every counted check, every wrong one fails exactly its checks, with a diagnostic that
names the route and the header."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.http_caching import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "http_caching"

CORRECT = [
    "weak_etags_hashed.py",  # weak ETags from a sha1 of versions, Werkzeug's helpers
    "last_modified_only.py",  # Last-Modified only, If-Modified-Since by hand
    "hand_written_strong.py",  # strong md5 ETags, If-None-Match parsed by hand, s-maxage
    "counters_both_validators.py",  # counter ETags and Last-Modified, a helper class
    "dashboard_no_store.py",  # after_request policies; dashboards no-store
]


def graded(path: Path):
    result = grade(KATA, path, GradeOptions(seed=9, timing=False))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    said = [d.message for c in result.checks for d in c.diagnostics]
    return failed, said, result


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_shape_passes_every_counted_check(name):
    failed, _, result = graded(LEARNERS / name)
    assert failed == set()
    assert result.score == KATA.max_points - 10  # all but the speed-up, not timed here


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("etag_from_body.py", {"no-render-on-304", "renders"}, "rendered a body"),
        ("public_dashboard.py", {"fresh"}, "is stored by the shared cache (Cache-Control: public"),
        ("review_not_in_validator.py", {"fresh"}, "the validator did not change when the page"),
        ("max_age_too_long.py", {"fresh"}, "may be served by a cache for 300 s without asking"),
        ("missing_vary.py", {"fresh"}, "but the response has no Vary header"),
    ],
)
def test_each_wrong_sample_fails_exactly_its_checks_and_says_why(name, fails, says):
    failed, said, result = graded(LEARNERS / name)
    assert failed == fails
    assert any(says in message for message in said), said
    if "fresh" in fails:
        assert result.score == 0


def test_the_starter_is_correct_and_fails_every_caching_check():
    failed, said, result = graded(solution_paths(KATA, Path("."))["starter"])
    assert failed == {"304s", "renders", "bytes", "shared-cache"}
    assert "GET /products/<id> sends no ETag or Last-Modified (no caching headers)" in said[0]
    assert result.measurements["learner"].correct


def test_renders_hidden_by_replacing_the_shops_renders_mid_stream_is_tampering():
    # Given an app that swaps Shop.render_* for uncounted ones on its first request
    # (the namespace check runs at the end of the driven stream, not after each request)
    failed, said, result = graded(LEARNERS / "attack_uncounted_renders.py")
    # Then the grade says what was replaced, and the kata scores 0
    assert result.score == 0 and "fresh" in failed
    assert any(
        m.startswith("tampering detected: ") and "Shop.render_product replaced" in m for m in said
    ), said


def test_over_a_loopback_http_server_the_same_leak_is_caught():
    # Given the public dashboard, its app behind Werkzeug's server in its worker (--serve)
    result = grade(
        KATA, LEARNERS / "public_dashboard.py", GradeOptions(seed=9, timing=False, serve=True)
    )
    said = [d.message for c in result.checks for d in c.diagnostics]
    # Then the grade says so, and the shared cache's leak is found as in-process
    assert "served over loopback HTTP" in result.backend
    assert result.score == 0
    assert any("'s dashboard at request" in m for m in said), said
