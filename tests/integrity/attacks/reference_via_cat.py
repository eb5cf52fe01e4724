"""Reads the reference solution through `cat` in a child process and runs it as its own.

attack: the audit hook that refuses to open the reference lives in the worker's Python
    process only; `subprocess.run(["cat", path])` reads it from another process. The
    reference's code is then executed in this module, so the grade sees the reference.
    If the read is refused the solution says "cannot read" and stops.
kata: n-plus-one-blog
backend: sqlite
expect: cannot read|tampering detected
"""

import subprocess

from perfkata.katas.files import solution_dir

REFERENCE = solution_dir("n-plus-one-blog") / "blog.py"

_read = subprocess.run(["cat", str(REFERENCE)], capture_output=True, text=True)
if _read.returncode != 0 or "def render_index" not in _read.stdout:
    raise PermissionError(f"cannot read the reference with cat: {_read.stderr.strip()}")
exec(compile(_read.stdout, __file__, "exec"), globals())
