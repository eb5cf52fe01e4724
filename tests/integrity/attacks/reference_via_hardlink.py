"""Reads the reference solution through a hard link, whose path is not under solutions/.

attack: the audit hook compares os.path.realpath of each opened path with the solutions
    folder; a hard link has a path of its own (realpath cannot see through it). The link
    is made beside this file (or in a temp folder on the same disk), read, removed, and
    the reference's code runs as this module's. A refused read says "cannot read".
kata: n-plus-one-blog
backend: sqlite
expect: cannot read|tampering detected
"""

import os
import tempfile
from pathlib import Path

from perfkata.katas.files import solution_dir

REFERENCE = solution_dir("n-plus-one-blog") / "blog.py"


def _read_through_link() -> str:
    errors = []
    for folder in (Path(__file__).resolve().parent, Path(tempfile.gettempdir()), Path("/tmp")):
        link = folder / f".reference-link-{os.getpid()}.py"
        try:
            os.link(REFERENCE, link)
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror}")
            continue
        try:
            return link.read_text()
        except OSError as exc:
            errors.append(f"{link}: {exc.strerror}")
        finally:
            link.unlink()
    raise PermissionError(f"cannot read the reference through a hard link ({'; '.join(errors)})")


exec(compile(_read_through_link(), __file__, "exec"), globals())
