"""Reaches the worker's frames through a caught exception's traceback (tb_frame.f_back).

attack: raise and catch an exception, then walk tb.tb_frame.f_back to the worker's
    run_once, whose locals hold the WorkerState: its `dataset` is (size, seed); no SQL.
kata: n-plus-one-blog
backend: sqlite
expect: tampering detected
"""

from sqlalchemy.orm import Session

from perfkata.katas.n_plus_one_blog import data


def _worker_dataset() -> tuple[int, int]:
    try:
        raise RuntimeError
    except RuntimeError as exc:
        frame = exc.__traceback__.tb_frame  # type: ignore[union-attr]
    while frame is not None:
        state = frame.f_locals.get("state")
        if state is not None and hasattr(state, "dataset"):
            return state.dataset
        frame = frame.f_back
    raise LookupError("no worker state on the stack")


def render_index(session: Session) -> list[dict]:
    size, seed = _worker_dataset()
    return data.expected_index(data.generate(size, seed))
