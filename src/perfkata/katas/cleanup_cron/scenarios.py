"""What a single run of the jobs cannot show: the schedule over five weeks, a crash in
the middle of a job, and two schedulers firing the same slot at once."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from croniter import croniter
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from perfkata.bench.together import release_together
from perfkata.katas.base import RunEnv
from perfkata.katas.cleanup_cron.data import NOW, generate, survivors
from perfkata.katas.cleanup_cron.models import UserSession
from perfkata.katas.cleanup_cron.workload import fingerprint, remaining, rows_deleted

WINDOW_START = datetime(2027, 3, 1)  # a Monday; five weeks follow
WINDOW = timedelta(weeks=5)
REQUIRED = {  # job: (what the brief says, the first fire time, the period)
    "expire_sessions": ("every day at 03:15 UTC", datetime(2027, 3, 1, 3, 15), timedelta(days=1)),
    "purge_uploads": ("every Sunday at 02:00 UTC", datetime(2027, 3, 7, 2, 0), timedelta(weeks=1)),
}


def required_times(job: str) -> list[datetime]:
    _, first, period = REQUIRED[job]
    times, at = [], first
    while at < WINDOW_START + WINDOW:
        times.append(at)
        at += period
    return times


def fire_times(expression: str) -> list[datetime]:
    schedule = croniter(expression, WINDOW_START - timedelta(seconds=1))
    times: list[datetime] = []
    while (at := schedule.get_next(datetime)) < WINDOW_START + WINDOW:
        times.append(at)
    return times


def schedule(module: ModuleType, env: RunEnv) -> None:
    wrong = 0
    for job, (words, _, _) in REQUIRED.items():
        expression = getattr(module, "SCHEDULES", {}).get(job)
        problem = schedule_problem(job, expression, words)
        if problem:
            wrong += 1
            env.note("schedule_errors", problem)
    env.record("schedule_errors", wrong)


def schedule_problem(job: str, expression: Any, words: str) -> str | None:
    if not isinstance(expression, str):
        return f"SCHEDULES has no cron expression for {job!r}; it must run {words}"
    try:
        got = fire_times(expression)
    except (ValueError, KeyError) as exc:
        return f"SCHEDULES[{job!r}] = {expression!r} is not a cron expression: {exc}"
    want = required_times(job)
    for index, expected in enumerate(want):
        actual = got[index] if index < len(got) else None
        if actual != expected:
            shown = actual.strftime("%a %Y-%m-%d %H:%M") if actual else "nothing"
            return (
                f"{job} ({expression!r}) fires {shown} as run {index + 1}; expected "
                f"{expected:%a %Y-%m-%d %H:%M} — it must run {words}"
            )
    if len(got) > len(want):
        return f"{job} ({expression!r}) also fires {got[len(want)]:%a %Y-%m-%d %H:%M}"
    return None


class Crash(Exception):
    """Stands in for the process dying (deploy, OOM kill) in the middle of a job."""


def crash_when(env: RunEnv, rows: int) -> Callable[[], None]:
    """Arm a crash at the first DELETE run once `rows` rows are deleted (counting the rows
    an executemany() is about to delete); returns the disarm function. Whatever the job
    had not committed by then is rolled back, as if the process had died."""
    deleted = [0]

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith("DELETE"):
            return
        pending = len(params) if many and isinstance(params, list | tuple) else 0
        if deleted[0] + pending >= rows and (deleted[0] or pending):
            raise Crash("crashed mid-job")

    def after(
        conn: Any, clause: Any, multiparams: Any, params: Any, options: Any, result: Any
    ) -> None:
        deleted[0] += rows_deleted(clause, result)

    event.listen(env.engine, "before_cursor_execute", before)
    event.listen(env.engine, "after_execute", after)

    def disarm() -> None:
        event.remove(env.engine, "before_cursor_execute", before)
        event.remove(env.engine, "after_execute", after)

    return disarm


def crash(module: ModuleType, env: RunEnv) -> None:
    """Kill expire_sessions a third of the way through, then run it again."""
    data = generate(env.size, env.seed)
    to_delete = len(data.sessions) - len(survivors(data)["sessions"])
    disarm = crash_when(env, to_delete // 3)
    try:
        with Session(env.engine) as session:
            module.expire_sessions(session, NOW)
    except Crash:
        pass
    finally:
        disarm()
    with Session(env.engine) as session:
        left = session.scalar(select(func.count()).where(UserSession.expires_at <= NOW)) or 0
    env.record("crash_kept_rows", to_delete - left)
    if to_delete - left == 0:
        env.note(
            "crash_kept_rows",
            f"killed after deleting {to_delete // 3} of {to_delete} "
            "expired sessions, the job kept none of its work: nothing had been committed",
        )
    with Session(env.engine) as session:
        module.expire_sessions(session, NOW)
    left_ids = remaining(env.engine)["sessions"]
    wrong = int(left_ids != fingerprint(survivors(data)["sessions"]))
    env.record("crash_rerun_wrong", wrong)
    if wrong:
        env.note("crash_kept_rows", "after the crash, running the job again did not finish it")


def claims(module: ModuleType, env: RunEnv) -> None:
    """Two schedulers fire each of six slots at the same instant: one run per slot."""
    # Fresh slots on every run, even on a shared Redis whose claims from earlier grades
    # live on for their TTL: OS entropy, so no seeding of `random` can repeat an offset.
    offset = timedelta(weeks=1 + secrets.randbelow(300_000))
    double, missed = 0, 0
    for job in REQUIRED:
        for slot in required_times(job)[:3]:
            granted = race(module, env, job, slot + offset)
            double += granted > 1
            missed += granted == 0
    env.record("claim_errors", double + missed)
    if double or missed:
        env.note(
            "claim_errors",
            f"of 6 slots fired by two schedulers at once, {double} ran "
            f"twice and {missed} never ran",
        )


def race(module: ModuleType, env: RunEnv, job: str, slot: datetime) -> int:
    def scheduler() -> bool:
        with Session(env.engine) as session:
            return bool(module.claim(session, env.services["redis"], job, slot))

    return sum(release_together(2, scheduler))
