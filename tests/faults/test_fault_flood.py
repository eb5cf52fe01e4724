"""A solution that prints in a loop: its output is kept bounded (head and tail, with how
much was dropped), the parent never holds it all, and the timeout still ends the grade."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clirun import clean_environment

from perfkata.errors import ExitCode
from perfkata.grader.capture import BoundedCapture

FLOODS = """
def render_index(session):
    line = "flood " * 200
    while True:
        print(line)
"""

# Runs perfkata, then says the largest resident size of it and of its workers (KiB).
MEASURED = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)


def test_an_output_flood_is_bounded_and_times_out(tmp_path: Path) -> None:
    # Given a solution whose request prints without end
    solution = tmp_path / "blog.py"
    solution.write_text(FLOODS)
    # When it is graded with a 5 s timeout
    command = [
        sys.executable,
        "-c",
        MEASURED,
        sys.executable,
        "-m",
        "perfkata",
        "grade",
        "n-plus-one-blog",
        "--solution",
        str(solution),
        "--timeout",
        "5",
        "--no-timing",
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=clean_environment({}, True),
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Then the timeout is reported, and no process held the flood in memory (a 5 s flood
    # is hundreds of MB; read back whole it was 2.8 GB of RSS)
    assert done.returncode == ExitCode.USAGE, done.stderr[-2000:]
    assert "did not finish within 5 s" in done.stderr
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB"
    assert len(done.stderr) < 100_000


def test_capture_keeps_head_and_tail_and_says_what_was_dropped() -> None:
    # Given 10 MB written to a pipe, in numbered lines
    import os

    read, write = os.pipe()
    capture = BoundedCapture(os.fdopen(read, "rb"), head=1000, tail=1000)
    lines = b"".join(b"line %07d\n" % n for n in range(800_000))
    os.write(write, b"perfkata: working at N=800\n")
    view = memoryview(lines)
    while view:
        view = view[os.write(write, view[: 1 << 16]) :]
    os.write(write, b"the end\n")
    os.close(write)
    capture.close()
    text = capture.text()
    # Then the first and last lines are kept, the middle counted, the size still known
    assert text.startswith("perfkata: working at N=800\nline 0000000")
    assert text.endswith("line 0799999\nthe end\n")
    assert f"[… {capture.dropped:,} bytes of output dropped …]" in text
    assert capture.dropped == len(lines) + 27 + 8 - 2000
    assert capture.last_size == "800" and len(text) < 2200
