"""Bad flags and odd files get one clear sentence and exit 2 before any worker starts."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from clirun import perfkata

from perfkata import __version__
from perfkata.errors import ExitCode
from perfkata.grader.loading import check_syntax
from perfkata.katas.files import solution_dir
from perfkata.katas.registry import get_kata


def test_version_prints_and_exits_0(tmp_path: Path) -> None:
    # When asked for the version alone
    done = perfkata("--version", cwd=tmp_path)
    # Then it is printed, with no complaint about a missing command
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"perfkata {__version__}"


@pytest.mark.parametrize("value", ["-1", "0", "inf", "nan"])
def test_a_timeout_no_run_can_meet_is_refused_up_front(tmp_path: Path, value: str) -> None:
    # Given a timeout that is not a positive, finite number of seconds
    # When grading the reference with it
    done = perfkata(
        "grade",
        "n-plus-one-blog",
        "--solution",
        "reference",
        "--timeout",
        value,
        "--no-timing",
        cwd=tmp_path,
    )
    # Then the flag is named in one sentence, exit 2, and nobody's code was blamed
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "--timeout must be a positive number of seconds" in done.stderr
    assert "did not finish" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/test", "sqlite:///graded.db"])
def test_an_unsupported_database_says_which_are_supported(tmp_path: Path, url: str) -> None:
    # When a database perfkata does not grade on is asked for
    done = perfkata(
        "grade",
        "n-plus-one-blog",
        "--solution",
        "reference",
        "--db-url",
        url,
        "--no-timing",
        cwd=tmp_path,
    )
    # Then one sentence names what is supported and how to ask for it, exit 2
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "is not supported" in done.stderr
    assert "postgresql+psycopg://" in done.stderr and "SQLite" in done.stderr
    assert "ModuleNotFoundError" not in done.stderr and "no such function" not in done.stderr


def with_bom(tmp_path: Path) -> Path:
    kata = get_kata("n-plus-one-blog")
    source = (solution_dir(kata.slug) / kata.main_file).read_bytes()
    path = tmp_path / kata.main_file
    path.write_bytes(codecs.BOM_UTF8 + source)
    return path


def test_a_byte_order_mark_compiles_as_python_runs_it(tmp_path: Path) -> None:
    # Given a correct solution saved with a UTF-8 byte-order mark (Windows editors do)
    path = with_bom(tmp_path)
    # Then the syntax check accepts it (it raised "invalid non-printable character U+FEFF")
    check_syntax(path)


def test_a_byte_order_mark_solution_is_graded(tmp_path: Path) -> None:
    # Given the reference saved with a byte-order mark
    path = with_bom(tmp_path)
    # When it is graded
    done = perfkata(
        "grade", "n-plus-one-blog", "--solution", str(path), "--no-timing", cwd=tmp_path
    )
    # Then it loads and passes like the file without the mark
    assert done.returncode == ExitCode.PASSED, done.stdout + done.stderr
