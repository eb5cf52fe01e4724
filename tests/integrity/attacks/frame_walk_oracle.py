"""Walks up the stack with sys._getframe to the worker's RunEnv and returns perfkata's own answer.

attack: render_index runs no SQL at all: it finds the RunEnv in a caller's frame, reads
    the dataset's size and seed, and returns data.expected_index(data.generate(size, seed))
    — the oracle the grade checks against.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import sys

from sqlalchemy.orm import Session

from perfkata.katas.base import RunEnv
from perfkata.katas.n_plus_one_blog import data


def _run_env() -> RunEnv:
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, RunEnv):
                return value
        frame = frame.f_back
    raise LookupError("no RunEnv on the stack")


def render_index(session: Session) -> list[dict]:
    env = _run_env()
    return data.expected_index(data.generate(env.size, env.seed))
