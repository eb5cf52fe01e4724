"""Finds the worker's RunEnv with inspect.stack() and returns perfkata's own answer.

attack: as frame_walk_oracle, through inspect.stack() (the public API) instead of
    sys._getframe; no SQL is run.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

import inspect

from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog import data


def render_index(session: Session) -> list[dict]:
    for info in inspect.stack(context=0):
        env = info.frame.f_locals.get("env")
        if env is not None and hasattr(env, "seed") and hasattr(env, "size"):
            return data.expected_index(data.generate(env.size, env.seed))
    raise LookupError("no RunEnv on the stack")
