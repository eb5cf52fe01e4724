"""Finds the live RunEnv with gc.get_objects() — no frame walk — and returns the oracle's answer.

attack: scans the garbage collector's objects for the RunEnv of the current run (the one
    whose session is the session passed in), reads size and seed, no SQL.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import gc

from sqlalchemy.orm import Session

from perfkata.katas.base import RunEnv
from perfkata.katas.n_plus_one_blog import data


def render_index(session: Session) -> list[dict]:
    for obj in gc.get_objects():
        if isinstance(obj, RunEnv) and obj.session is session:
            return data.expected_index(data.generate(obj.size, obj.seed))
    raise LookupError("no RunEnv among the live objects")
