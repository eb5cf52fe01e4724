"""On PostgreSQL the statements graded are the ones the parent's proxy saw the server
receive: a worker whose own count was altered is caught, and honest solutions are not.

Given n-plus-one-blog on PostgreSQL, when a learner's N+1 hides its statements from the
worker's in-process count, then the grade is 0 with "tampering detected" naming both
figures; when the solution is honest, no alarm. Mutations tried: server_count() never
reporting (both attacks pass — the count test fails), the proxy's window taken around
the whole measure request (perfkata's own rebuild counted: the honest grades fail)."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from clirun import perfkata_env

# grades references and attacks on PostgreSQL/Redis: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners"

# The starter's N+1, as the learner got it (starter/n-plus-one-blog/blog.py).
N_PLUS_ONE = """
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session: Session) -> list[dict]:
    {hide}
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    return [
        {{
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }}
        for post in posts
    ]
"""

# Replaces QueryProbe's counting at import: every run reports 3 statements.
PROBE_PATCHED = """
from perfkata.bench.probes.queries import QueryProbe

QueryProbe.results = lambda self: {
    "statements": 3, "orm_statements": 3, "driver_statements": 3, "bypassed_statements": 0
}
QueryProbe.repeated = lambda self, at_least: []
""" + N_PLUS_ONE.format(hide="")

# Touches no class of anyone's: the N+1 goes through the raw psycopg connection, whose
# counting cursor factory (an attribute of that one connection) is put back first.
CURSOR_RESET = """
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post

COMMENTERS = (
    "SELECT users.name FROM comments JOIN users ON users.id = comments.author_id "
    "WHERE comments.post_id = %s ORDER BY comments.id"
)


def render_index(session: Session) -> list[dict]:
    raw = session.connection().connection.driver_connection
    raw.cursor_factory = psycopg.Cursor
    index = []
    for post in session.scalars(select(Post).order_by(Post.id)).all():
        user = raw.execute("SELECT name FROM users WHERE id = %s", (post.author_id,)).fetchone()
        category = raw.execute(
            "SELECT name FROM categories WHERE id = %s", (post.category_id,)
        ).fetchone()
        names = [name for (name,) in raw.execute(COMMENTERS, (post.id,)).fetchall()]
        index.append(
            {
                "title": post.title,
                "author": user[0],
                "category": category[0],
                "comment_count": len(names),
                "commenters": names,
            }
        )
    return index
"""


def grade_on_postgres(solution: Path, url: str, kata: str = "n-plus-one-blog") -> tuple[int, str]:
    done = perfkata_env(
        {}, "grade", kata, "--solution", str(solution), "--no-timing", "--db-url", url,
        "--seed", "7", cwd=solution.parent,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def readable(tmp_path: Path) -> Iterator[Path]:
    """A folder the learner's worker can read when it runs as another uid (pytest's
    tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="perfkata-proxytest-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def write(folder: Path, source: str) -> Path:
    path = folder / "blog.py"
    path.write_text(textwrap.dedent(source))
    path.chmod(0o644)
    return path


def test_a_count_hidden_from_the_worker_is_tampering(
    real_postgres_url: str, readable: Path
) -> None:
    code, output = grade_on_postgres(write(readable, CURSOR_RESET), real_postgres_url)
    assert code == 1, output
    found = re.search(
        r"tampering detected: PostgreSQL received (\d+) statements during the run at "
        r"N=\d+, the worker reported (\d+)",
        " ".join(output.split()),
    )
    assert found, output
    assert int(found[1]) > int(found[2])
    assert "score 0/" in output
    # and the statements graded are the server's: the N+1 shows, at every size
    assert re.search(r"statements flat as N grows .* FAIL", output), output


def test_a_patched_query_probe_scores_zero(real_postgres_url: str, readable: Path) -> None:
    code, output = grade_on_postgres(write(readable, PROBE_PATCHED), real_postgres_url)
    assert code == 1, output
    assert "tampering detected: PostgreSQL received" in " ".join(output.split())
    assert "score 0/" in output


@pytest.mark.parametrize(
    "sample", ["contains_eager_join.py", "selectin_everything.py", "hand_batched.py"]
)
def test_honest_samples_raise_no_alarm(real_postgres_url: str, sample: str) -> None:
    code, output = grade_on_postgres(LEARNERS / "n_plus_one_blog" / sample, real_postgres_url)
    assert "tampering" not in output
    assert code == 0, output


@pytest.mark.parametrize(
    "kata", ["n-plus-one-blog", "cached-catalog", "cleanup-cron", "report-worker"]
)
def test_the_references_raise_no_alarm(
    real_postgres_url: str, real_redis_url: str, kata: str, tmp_path: Path
) -> None:
    done = perfkata_env(
        {}, "grade", kata, "--solution", "reference", "--no-timing",
        "--db-url", real_postgres_url, "--redis-url", real_redis_url, cwd=tmp_path,
    )  # fmt: skip
    assert "tampering" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


# Dials the server's address itself instead of the URL it was given (the proxy's socket).
AROUND_THE_PROXY = """
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog.models import Post


def render_index(session: Session) -> list[dict]:
    url = session.get_bind().url
    psycopg.connect(host="127.0.0.1", port=5432, user=url.username, dbname=url.database)
    return []
"""


def test_a_worker_cannot_reach_the_server_around_its_proxy(
    real_postgres_url: str, readable: Path
) -> None:
    """Mutation tried: the worker started with its network (off_the_network() → None):
    the connection is made and the grade goes on."""
    from perfkata import fences

    if fences.mode() != "strict":
        pytest.skip("only the strict fences take the network away")
    code, output = grade_on_postgres(write(readable, AROUND_THE_PROXY), real_postgres_url)
    assert "Network is unreachable" in output
    assert code == 2, output  # the learner's error, at their line: not a server's failure
    lines = textwrap.dedent(AROUND_THE_PROXY).splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "psycopg.connect(" in text)
    assert f"blog.py:{line}" in output.replace("\n", "")
