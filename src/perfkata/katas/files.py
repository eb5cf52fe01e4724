"""Where a kata's starter and reference files live: inside the installed wheel, or,
when running from a source checkout, at the repository's top level."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from perfkata.errors import InternalError


def kata_files_root() -> Path:
    packaged = Path(str(files("perfkata"))) / "_kata_files"
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[3]
    if (source_tree / "starter").is_dir():
        return source_tree
    raise InternalError("perfkata's starter and solution files are missing from this install.")


def starter_dir(slug: str) -> Path:
    return kata_files_root() / "starter" / slug


def solution_dir(slug: str) -> Path:
    return kata_files_root() / "solutions" / slug
