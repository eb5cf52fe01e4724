"""Re-grade on every save of the learner's files (watchfiles: native events, or polling
for network and container file systems). Errors in the learner's code are shown and the
watch goes on; Ctrl-C ends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import watchfiles


def watch_and_regrade(
    files: list[Path], regrade: Callable[[], None], *, poll: bool, debounce_ms: int = 400
) -> None:
    """Grade once now, then again after each debounced burst of saves to `files`."""
    wanted = {path.resolve() for path in files}
    folders = sorted({path.parent for path in wanted})

    def only_the_learners_files(change: watchfiles.Change, path: str) -> bool:
        return change != watchfiles.Change.deleted and Path(path).resolve() in wanted

    regrade()
    for _ in watchfiles.watch(
        *folders,
        watch_filter=only_the_learners_files,
        debounce=debounce_ms,
        force_polling=poll,
        poll_delay_ms=300,
    ):
        regrade()
