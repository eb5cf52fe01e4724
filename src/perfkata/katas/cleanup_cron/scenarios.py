"""What a single run of the jobs cannot show: the schedule over five weeks, a crash in
the middle of a job, and two schedulers firing the same slot at once."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from perfkata.bench.together import release_together, release_together_in_processes
from perfkata.katas.base import RunEnv
from perfkata.katas.cleanup_cron.data import NOW, generate, survivors
from perfkata.katas.cleanup_cron.models import UserSession
from perfkata.katas.cleanup_cron.workload import fingerprint, remaining, rows_deleted

WINDOW_START = datetime(2027, 3, 1)  # a Monday; five weeks follow, over both DST changes
WINDOW = timedelta(weeks=5)
BERLIN = "Europe/Berlin"  # clocks go forward on Sunday 28 March 2027


@dataclass(frozen=True)
class Requirement:
    words: str  # what the brief says
    first: datetime  # the first fire time, local to `zone`
    period: timedelta
    zone: str = "UTC"


REQUIRED = {
    "expire_sessions": Requirement(
        "every day at 03:15 UTC", datetime(2027, 3, 1, 3, 15), timedelta(days=1)
    ),
    "purge_uploads": Requirement(
        "every Sunday at 02:00 UTC", datetime(2027, 3, 7, 2, 0), timedelta(weeks=1)
    ),
    "send_digest": Requirement(
        "every day at 09:00 Berlin time, summer and winter",
        datetime(2027, 3, 1, 9, 0),
        timedelta(days=1),
        BERLIN,
    ),
}


def as_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` as naive UTC, the kata's one way to compare times."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


def required_times(job: str) -> list[datetime]:
    """Wall-clock steps in the job's zone, so 09:00 Berlin stays 09:00 across DST."""
    need = REQUIRED[job]
    times, at = [], need.first
    while (fire := as_utc(at, need.zone)) < WINDOW_START + WINDOW:
        times.append(fire)
        at += need.period
    return times


def parse_entry(entry: Any) -> tuple[str, str]:
    """A SCHEDULES value is "cron" (UTC) or ("cron", "Area/City")."""
    if isinstance(entry, str):
        return entry, "UTC"
    if (
        isinstance(entry, tuple | list)
        and len(entry) == 2
        and all(isinstance(x, str) for x in entry)
    ):
        return entry[0], entry[1]
    raise TypeError(f"{entry!r} is neither a cron string nor a (cron, time zone) pair")


def fire_times(expression: str, zone: str = "UTC") -> list[datetime]:
    """croniter walks the zone's wall clock (it knows DST); times come back as UTC."""
    start = (WINDOW_START - timedelta(seconds=1)).replace(tzinfo=UTC)
    schedule = croniter(expression, start.astimezone(ZoneInfo(zone)))
    times: list[datetime] = []
    while (at := schedule.get_next(datetime)) < start + WINDOW + timedelta(seconds=1):
        times.append(at.astimezone(UTC).replace(tzinfo=None))
    return times


def schedule(module: ModuleType, env: RunEnv) -> None:
    wrong = 0
    for job, need in REQUIRED.items():
        problem = schedule_problem(job, getattr(module, "SCHEDULES", {}).get(job), need.words)
        if problem:
            wrong += 1
            env.note("schedule_errors", problem)
    env.record("schedule_errors", wrong)


def schedule_problem(job: str, entry: Any, words: str) -> str | None:
    if entry is None:
        return f"SCHEDULES has no entry for {job!r}; it must run {words}"
    try:
        expression, zone = parse_entry(entry)
        got = fire_times(expression, zone)
    except ZoneInfoNotFoundError:  # a KeyError, so caught first
        return f"SCHEDULES[{job!r}] names an unknown time zone {entry[1]!r}; try {BERLIN!r}"
    except (ValueError, KeyError, TypeError) as exc:
        return f"SCHEDULES[{job!r}] = {entry!r} is not a cron expression: {exc}"
    return first_wrong_fire(job, entry, words, got, required_times(job))


def first_wrong_fire(
    job: str, entry: Any, words: str, got: list[datetime], want: list[datetime]
) -> str | None:
    zone = REQUIRED[job].zone if job in REQUIRED else "UTC"
    for index, expected in enumerate(want):
        actual = got[index] if index < len(got) else None
        if actual != expected:
            return (
                f"{job} ({entry!r}) fires {shown(actual, zone)} as run {index + 1}; expected "
                f"{shown(expected, zone)} — it must run {words}"
            )
    if len(got) > len(want):
        return f"{job} ({entry!r}) also fires {shown(got[len(want)], zone)}"
    return None


def shown(at: datetime | None, zone: str) -> str:
    if at is None:
        return "nothing"
    text = f"{at:%a %Y-%m-%d %H:%M} UTC"
    if zone != "UTC":
        local = at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
        text += f" ({local:%H:%M} in {zone})"
    return text


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


CLAIMED_JOBS = ("expire_sessions", "purge_uploads")


def claims(module: ModuleType, env: RunEnv) -> None:
    """Two schedulers fire each slot at the same instant: one run per slot. Three slots per
    job race two threads, a fourth races two forked processes."""
    # Fresh slots on every run, even on a shared Redis whose claims from earlier grades
    # live on for their TTL: OS entropy, so no seeding of `random` can repeat an offset.
    offset = timedelta(weeks=1 + secrets.randbelow(300_000))
    double, missed, slots = 0, 0, 0
    for job in CLAIMED_JOBS:
        for index, slot in enumerate(required_times(job)[:4]):
            granted = race(module, env, job, slot + offset, processes=index == 3)
            double += granted > 1
            missed += granted == 0
            slots += 1
    env.record("claim_errors", double + missed)
    if double or missed:
        env.note(
            "claim_errors",
            f"of {slots} slots fired by two schedulers at once (threads, then processes), "
            f"{double} ran twice and {missed} never ran",
        )


def race(module: ModuleType, env: RunEnv, job: str, slot: datetime, processes: bool) -> int:
    def scheduler() -> bool:
        with Session(env.engine) as session:
            return bool(module.claim(session, env.services["redis"], job, slot))

    if not processes:
        return sum(release_together(2, scheduler))
    # A forked child must not reuse the parent's pooled connections (SQLAlchemy's advice).
    return sum(release_together_in_processes(2, scheduler, lambda: env.engine.dispose(close=False)))
