"""The parent's reading of the evidence the worker's audit hook (perfkata/audit.py) gathered:
any tampering it recorded, or counts that disagree with the driver's, fail the grade.

Everything here arrives from the learner's process, so it is treated as evidence to
check, never as a number to grade: the hook's own driver count only ever raises the
statements graded (a probe made to report fewer is the tampering), and an answer that
is right although no statement reached the database cannot have come from it.
"""

from __future__ import annotations

import secrets
from typing import Any

from perfkata.errors import TamperingDetected
from perfkata.katas.base import Kata

PREFIX = "tampering detected: "
# Sent to each worker in its load request, before the solution is imported; the worker's
# main() returns it with every reply until its audit hook sees tampering. A line the
# learner's code writes into the reply pipe cannot carry it.
SEAL = secrets.token_hex(16)


def evidence_of_tampering(
    kata: Kata, entry: dict[str, Any], correct: bool, events: list[str] | None = None
) -> str | None:
    """One sentence, "tampering detected: …", when a counted run's reply (`entry`) shows
    tampering; `events` are any the worker reported after that run."""
    recorded: list[str] = [str(e) for e in entry.get("tampering") or []]
    recorded += [str(e) for e in events or [] if e not in recorded]
    if recorded:
        more = f" (and {len(recorded) - 1} more: {'; '.join(recorded[1:])})" if recorded[1:] else ""
        return f"{PREFIX}{recorded[0]}{more}"
    driver = (entry.get("integrity") or {}).get("driver_statements")
    if driver is None or "server" in entry:  # PostgreSQL: the proxy's count decides
        return None
    counters = entry["counters"]
    graded = counters.get("statements")
    if graded is not None and driver > graded:
        counters["statements"] = driver
        return (
            f"{PREFIX}the SQLite driver ran {driver} statements during the run at "
            f"N={entry['size']}, the worker's probes reported {graded}"
        )
    if driver == 0 and correct and grades_statements(kata):
        return (
            f"{PREFIX}the answer did not come from the database: no statement reached it "
            f"during the run at N={entry['size']}, yet the output is right"
        )
    return None


def grades_statements(kata: Kata) -> bool:
    return any(check.metric.split(":")[0] == "statements" for check in kata.rubric)


def check_seal(reply: dict[str, Any]) -> None:
    """Every answer of the worker's own carries the grade's seal. One without it was
    written into the reply pipe by the learner's code — unless the worker's hook saw
    tampering (it drops the seal then) and says so, which the grade reports itself."""
    if not reply.get("ok") or reply.get("seal") == SEAL:
        return
    if reply.get("tampering"):
        return
    raise TamperingDetected(
        f"{PREFIX}a reply reached the grader that perfkata's worker did not write "
        "(it lacks the grade's seal): the solution wrote into the worker's reply pipe.",
        hint="Return your answer from the function the grader calls; nothing else is read.",
    )
