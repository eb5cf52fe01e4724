"""Who owns an external resource: every schema, Redis key prefix, temp folder and worker
process a grade makes carries its owner's tag, "<pid>_<grade id>", so the next grade can
tell the leftovers of a perfkata that was killed (owner pid gone) from a live one's.

At the bottom of the layers (like errors.py): bench and katas name their keys with it.
The grading parent sets it for its workers in GRADE_OWNER; their children inherit it.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid

OWNER_ENV = "GRADE_OWNER"  # not PERFKATA_*: no setting of the grader reaches the learner
_TAG = re.compile(r"^\d+_[0-9a-f]+$")


def host_id() -> str:
    """Six hex digits naming this machine (container): a pid means something only here,
    so a grade sweeps a shared server only of what its own host's dead owners left."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def new_owner_tag() -> str:
    """A fresh tag for one grade run by this process: "<pid>_<host id><random>"."""
    return f"{os.getpid()}_{host_id()}{uuid.uuid4().hex[:6]}"


def owner_tag() -> str:
    """The tag of the grade this process works for (its own pid outside a grade)."""
    tag = os.environ.get(OWNER_ENV, "")
    return tag if _TAG.match(tag) else f"{os.getpid()}_0"


def learner_keys_ledger(tag: str, run: str) -> str:
    """A set, under the owner's prefix, of the Redis keys one run of a learner's code named
    itself (no prefix of ours): the sweep deletes them with it when the owner is dead."""
    return f"perfkata:{tag}:learner-keys:{run}"


def owner_pid(tag: str) -> int | None:
    head = tag.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def alive(pid: int) -> bool:
    """Is there a process with this pid? (A pid we may not signal is alive.)"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
