"""`perfkata ci init` installs in CI the perfkata that runs here, found from PEP 610's
direct_url.json, and refuses a source no CI runner could reach."""

import json

import pytest

from perfkata.ciconfig import package_from_direct_url
from perfkata.errors import UsageError


def record(**fields: object) -> str:
    return json.dumps(fields)


def test_an_index_install_is_pinned_to_its_version():
    assert package_from_direct_url(None, "1.4.2") == "perfkata==1.4.2"


def test_a_git_install_is_pinned_to_its_commit():
    git = record(
        url="https://github.com/school/perfkata.git",
        vcs_info={"vcs": "git", "commit_id": "0123abcd", "requested_revision": "main"},
    )
    expected = "git+https://github.com/school/perfkata.git@0123abcd"
    assert package_from_direct_url(git, "0.1") == expected


def test_a_remote_archive_keeps_its_url_and_subdirectory():
    archive = record(
        url="https://example.org/perfkata-0.1.tar.gz", subdirectory="pkg", archive_info={}
    )
    expected = "https://example.org/perfkata-0.1.tar.gz#subdirectory=pkg"
    assert package_from_direct_url(archive, "0.1") == expected


@pytest.mark.parametrize("editable", [True, False])
def test_a_local_path_is_refused_with_the_way_out(editable):
    local = record(url="file:///home/teacher/perfkata", dir_info={"editable": editable})
    with pytest.raises(UsageError) as refused:
        package_from_direct_url(local, "0.1")
    assert "/home/teacher/perfkata" in refused.value.message
    assert "cannot reach" in refused.value.message and "--package" in (refused.value.hint or "")
