"""Blinds the audit hook by patching os.path.realpath, then opens the reference directly.

attack: the hook that guards the reference solutions decides with os.path.realpath, looked
    up on the os.path module at every open; replaced at import by a function that maps
    every path elsewhere, the hook lets the open through. The reference then runs as this
    module's code. A refused read says "cannot read".
kata: n-plus-one-blog
backend: sqlite
expect: cannot read|tampering detected
"""

import os.path

from perfkata.katas.files import solution_dir

REFERENCE = solution_dir("n-plus-one-blog") / "blog.py"

_realpath = os.path.realpath
os.path.realpath = lambda path, *args, **kwargs: "/nowhere/" + os.fsdecode(path)
try:
    with open(REFERENCE, encoding="utf-8") as handle:
        _source = handle.read()
except OSError as exc:
    raise PermissionError(f"cannot read the reference: {exc}") from None
finally:
    os.path.realpath = _realpath

exec(compile(_source, __file__, "exec"), globals())
