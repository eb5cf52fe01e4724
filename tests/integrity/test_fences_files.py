"""The fences keep a learner's code from what decides or records a grade: it cannot read
the reference solution (whatever the way), the grading parent's environment or command
line, cannot write progress, files beside its own or anywhere on the system, and, when
perfkata runs as root, does not run as root.

Each attack raises "LEAKED ..." when it works, which makes the grade a learner's error
(exit 2); behind the fences the correct solution it sits in passes (exit 0). With
PERFKATA_FENCES=basic every one of these tests fails."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from fencekit import grade, workspace_with

from perfkata import fences

pytestmark = pytest.mark.skipif(
    not fences.namespaces_available(), reason="this kernel refuses PID/mount namespaces"
)

READ_REFERENCE = {
    "cat": """
        import subprocess
        from perfkata.katas.files import kata_files_root
        REF = kata_files_root() / "solutions" / "n-plus-one-blog" / "blog.py"
        seen = subprocess.run(["cat", str(REF)], capture_output=True, text=True).stdout
        if "def render_index" in seen:
            raise RuntimeError("LEAKED the reference through cat")
    """,
    "hard link": """
        import os, tempfile
        from perfkata.katas.files import kata_files_root
        REF = kata_files_root() / "solutions" / "n-plus-one-blog" / "blog.py"
        link = os.path.join(tempfile.gettempdir(), "reference-link.py")
        try:
            os.link(REF, link)
            seen = open(link).read()
        except OSError:
            seen = ""
        if "def render_index" in seen:
            raise RuntimeError("LEAKED the reference through a hard link")
    """,
    "patched realpath": """
        import os.path
        from perfkata.katas.files import kata_files_root
        REF = kata_files_root() / "solutions" / "n-plus-one-blog" / "blog.py"
        real = os.path.realpath
        os.path.realpath = lambda path, *args, **kwargs: "/nowhere"
        try:
            seen = open(REF).read()
        except OSError:
            seen = ""
        finally:
            os.path.realpath = real
        if "def render_index" in seen:
            raise RuntimeError("LEAKED the reference after patching os.path.realpath")
    """,
}


@pytest.mark.parametrize("way", sorted(READ_REFERENCE))
def test_the_reference_solution_cannot_be_read(tmp_path: Path, way: str) -> None:
    # Given a correct solution that also tries to read the reference one way
    ws, _ = workspace_with(tmp_path, READ_REFERENCE[way])
    # When it is graded
    done = grade(ws)
    # Then the attack found nothing, and the solution passed
    assert "LEAKED" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


SPY_ON_PARENT = """
    import os
    found = []
    for pid in [str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]:
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            if b"grader-secret-8c1f" in data or b"--no-timing" in data:
                found.append(f"/proc/{pid}/{part}")
    if found:
        raise RuntimeError(f"LEAKED the grading parent's {found}")
"""


def test_the_grading_parent_is_invisible_in_proc(tmp_path: Path) -> None:
    # Given perfkata started with a secret in its environment and --no-timing on its
    # command line, and a solution looking for either in every /proc entry it sees
    ws, _ = workspace_with(tmp_path, SPY_ON_PARENT)
    # When it is graded
    done = grade(ws, env={"GRADER_TOKEN": "grader-secret-8c1f"})
    # Then neither the parent's environ nor its cmdline was readable
    assert "LEAKED" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


WRITE_EVERYWHERE = """
    import os
    from pathlib import Path
    here = Path(__file__).resolve()
    targets = [
        here.parents[1] / ".perfkata" / "state.json",
        here.with_name("planted.txt"),
        Path("/etc/{etc_name}"),
    ]
    written = []
    for target in targets:
        try:
            with open(target, "w") as handle:
                handle.write('{{"forged": "passed"}}')
            written.append(str(target))
        except OSError:
            continue
    if written:
        raise RuntimeError(f"LEAKED writes to {{written}}")
"""


def test_nothing_but_scratch_is_writable(tmp_path: Path) -> None:
    # Given a solution writing to the progress file, beside itself and to /etc
    etc_name = f"perfkata-planted-{uuid.uuid4().hex[:8]}"
    ws, blog = workspace_with(tmp_path, WRITE_EVERYWHERE.format(etc_name=etc_name))
    state = ws / ".perfkata" / "state.json"
    try:
        # When it is graded
        done = grade(ws)
        # Then every write was refused and the files are untouched
        assert "LEAKED" not in done.stdout + done.stderr
        assert done.returncode == 0, done.stdout + done.stderr
        assert "forged" not in state.read_text()
        assert not blog.with_name("planted.txt").exists()
        assert not Path("/etc", etc_name).exists()
    finally:
        Path("/etc", etc_name).unlink(missing_ok=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop applies when perfkata runs as root")
def test_the_learner_does_not_run_as_root(tmp_path: Path) -> None:
    # Given perfkata running as root and a solution that checks who it is
    ws, _ = workspace_with(
        tmp_path,
        """
        import os
        if 0 in (os.getuid(), os.geteuid(), os.getgid()) or os.getgroups():
            raise RuntimeError(f"LEAKED root: uid {os.getuid()} groups {os.getgroups()}")
        """,
    )
    # When it is graded
    done = grade(ws)
    # Then it ran as another, unprivileged uid
    assert "LEAKED" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


READ_RECORDS = """
    from pathlib import Path
    here = Path(__file__).resolve()
    seen = []
    for record in (here.parents[1] / ".perfkata" / "state.json", Path({results!r})):
        try:
            if record.read_text():
                seen.append(str(record))
        except OSError:
            continue
    if seen:
        raise RuntimeError(f"LEAKED records {{seen}}")
"""


def test_the_progress_and_results_files_are_hidden(tmp_path: Path) -> None:
    # Given a results file from an earlier run, and a solution that reads it and the
    # workspace's progress file
    results = tmp_path / "results.json"
    results.write_text('{"score": 40}')
    ws, _ = workspace_with(tmp_path, READ_RECORDS.format(results=str(results)))
    # When it is graded with --output
    done = grade(ws, "--format", "json", "--output", str(results))
    # Then both were empty to it, and the grade passed
    text = results.read_text()
    assert "LEAKED" not in done.stdout + done.stderr + text
    assert done.returncode == 0, done.stdout + done.stderr + text
