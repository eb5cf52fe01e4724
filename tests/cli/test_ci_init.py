"""`perfkata ci init`: valid YAML whose grade commands run here as written."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clirun import perfkata

REFERENCE = Path(__file__).parents[2] / "solutions" / "n-plus-one-blog" / "blog.py"


def test_writes_both_files_and_never_overwrites(tmp_path):
    # Given the CI files written once, then edited by the instructor
    pinned = ("--package", "perfkata==1.0")
    run = perfkata("ci", "init", "--dir", str(tmp_path), *pinned, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    files = [tmp_path / ".github/workflows/perfkata.yml", tmp_path / ".gitlab-ci.perfkata.yml"]
    workflow = yaml.safe_load(files[0].read_text())
    assert "services" not in workflow["jobs"]["grade"]  # embedded backends need none
    for path in files:
        path.write_text(path.read_text() + "# edited by hand\n")
    edited = [path.read_text() for path in files]
    # When init runs again, with options that would change what it writes
    again = perfkata("ci", "init", "--dir", str(tmp_path), "--redis", *pinned, cwd=tmp_path)
    # Then it refuses and both edited files are byte for byte as they were
    assert again.returncode == 2 and "already exists; nothing was written" in again.stderr
    assert [path.read_text() for path in files] == edited
    # And with --force both are replaced by the new choice
    forced = perfkata(
        "ci", "init", "--dir", str(tmp_path), "--force", "--redis", *pinned, cwd=tmp_path
    )
    assert forced.returncode == 0
    assert not any("# edited by hand" in path.read_text() for path in files)
    workflow = yaml.safe_load(files[0].read_text())
    assert set(workflow["jobs"]["grade"]["services"]) == {"redis"}


def run_steps(commands, env, cwd):
    """Each command through bash, as a CI runner would, with perfkata on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for command in commands:
        done = subprocess.run(
            ["bash", "-ec", command],
            cwd=cwd,
            env={**os.environ, **env, "PATH": path, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        yield command, done


@pytest.mark.slow
def test_workflow_commands_run_here_as_written(tmp_path, real_postgres_url, real_redis_url):
    # Given a learners' repository with a finished kata and the generated CI files
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    shutil.copy(REFERENCE, tmp_path / "perfkata-work" / "n-plus-one-blog" / "blog.py")
    options = ("--postgres", "--redis", "--package", str(REFERENCE.parents[2]))
    assert perfkata("ci", "init", "--dir", str(tmp_path), *options, cwd=tmp_path).returncode == 0
    workflow = yaml.safe_load((tmp_path / ".github/workflows/perfkata.yml").read_text())
    gitlab = yaml.safe_load((tmp_path / ".gitlab-ci.perfkata.yml").read_text())
    job = workflow["jobs"]["grade"]
    assert set(job["services"]) == {"postgres", "redis"}
    assert job["env"]["PERFKATA_DB_URL"].startswith("postgresql+psycopg://")
    steps = [s["run"] for s in job["steps"] if "run" in s]
    assert steps[0] == 'pip install "$PERFKATA_PACKAGE"'
    # When the grade commands run with the workflow's own environment (its service
    # addresses are this machine's), after the install step that CI runs first
    script = [line for line in gitlab["perfkata"]["script"] if line.startswith("perfkata")]
    results = list(run_steps(steps[1:] + script, job["env"], tmp_path))
    # Then each passes, the GitHub one prints annotations, the GitLab one writes its report
    for command, done in results:
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "::notice title=perfkata n-plus-one-blog::pass" in results[0][1].stdout
    assert (tmp_path / gitlab["perfkata"]["artifacts"]["reports"]["junit"]).is_file()


def test_a_local_install_is_refused_without_package(tmp_path):
    # Given perfkata installed from this checkout (a path no CI runner can reach)
    # When ci init is not told what to install
    run = perfkata("ci", "init", "--dir", str(tmp_path), cwd=tmp_path)
    # Then it refuses, says why and how, and writes nothing
    assert run.returncode == 2 and "cannot reach" in run.stderr and "--package" in run.stderr
    assert (
        not (tmp_path / ".github").exists() and not (tmp_path / ".gitlab-ci.perfkata.yml").exists()
    )
