import json
import os
from pathlib import Path

import pytest

from perfkata.katas.n_plus_one_blog import KATA
from perfkata.workspace import (
    Workspace,
    find_workspace,
    record_grade,
    record_start,
    reset_to_starter,
)


def test_best_score_and_pass_are_never_taken_back(tmp_path):
    ws = Workspace(tmp_path)
    record_start(ws, KATA)
    record_grade(ws, KATA, 100, passed=True)
    progress = record_grade(ws, KATA, 40, passed=False)
    assert progress.status == "passed" and progress.best_score == 100
    assert progress.last_score == 40


def test_state_is_written_with_a_header(tmp_path):
    ws = Workspace(tmp_path)
    record_start(ws, KATA)
    data = json.loads(ws.state_path.read_text())
    assert data["version"] == 1 and data["written_by"].startswith("perfkata ")
    assert [p.name for p in ws.state_path.parent.iterdir()] == ["state.json"]  # no temp left


def test_a_crash_while_saving_leaves_the_old_state_whole(tmp_path, monkeypatch):
    # Given a saved state
    ws = Workspace(tmp_path)
    record_start(ws, KATA)
    before = ws.state_path.read_bytes()
    # When the process dies at the moment the new file would take the old one's place
    renames = []

    def crash(source, target):
        renames.append((Path(source), Path(target)))
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        record_grade(ws, KATA, 100, passed=True)
    # Then the new state was written beside it, to a temporary file, and the old one is
    # untouched — byte for byte — with no temporary file left behind
    ((source, target),) = renames
    assert target == ws.state_path and source.parent == ws.state_path.parent
    assert ws.state_path.read_bytes() == before
    assert [p.name for p in ws.state_path.parent.iterdir()] == ["state.json"]


def test_a_state_file_of_the_wrong_shape_is_moved_aside(tmp_path):
    ws = Workspace(tmp_path)
    ws.state_path.parent.mkdir(parents=True)
    ws.state_path.write_text(json.dumps({"version": 99}))
    assert ws.load_state().katas == {}
    assert ws.warnings and "moved to" in ws.warnings[0]
    assert not ws.state_path.exists()


def test_reset_keeps_a_byte_identical_backup(tmp_path):
    ws = Workspace(tmp_path)
    ws.copy_starter(KATA)
    ws.learner_file(KATA).write_bytes(b"my work \xe2\x9c\x93\n")
    backup = reset_to_starter(ws, KATA)
    assert backup is not None
    assert (backup / "blog.py").read_bytes() == b"my work \xe2\x9c\x93\n"
    assert b"# TODO" in ws.learner_file(KATA).read_bytes()


def test_workspace_is_found_from_inside_it(tmp_path, monkeypatch):
    monkeypatch.delenv("PERFKATA_WORKSPACE", raising=False)
    ws = Workspace(tmp_path / "perfkata-work")
    record_start(ws, KATA)
    inside = ws.kata_dir(KATA)
    inside.mkdir(parents=True, exist_ok=True)
    assert find_workspace(cwd=inside).root == ws.root
    assert find_workspace(cwd=tmp_path).root == ws.root
