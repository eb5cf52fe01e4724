"""What a single run of the jobs cannot show: the schedule over five weeks, a crash in
the middle of a job, and two schedulers firing the same slot at once."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
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


_CRON_TZ = re.compile(r"^\s*(?:CRON_TZ|TZ)=(\S+)\s+(.*)$")


def parse_entry(entry: Any) -> tuple[str, str]:
    """A SCHEDULES value is "cron" (UTC), ("cron", "Area/City") — the zone may also be a
    tzinfo with a key (ZoneInfo, pytz) — or cronie's "CRON_TZ=Area/City cron"."""
    if isinstance(entry, str):
        prefixed = _CRON_TZ.match(entry)
        return (prefixed[2], prefixed[1]) if prefixed else (entry, "UTC")
    if isinstance(entry, tuple | list) and len(entry) == 2 and isinstance(entry[0], str):
        zone = entry[1] if isinstance(entry[1], str) else getattr(entry[1], "key", None)
        zone = zone or getattr(entry[1], "zone", None)  # pytz names it .zone
        if isinstance(zone, str):
            return entry[0], zone
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
    zone = "UTC"
    try:
        expression, zone = parse_entry(entry)
        got = fire_times(expression, zone)
    except ZoneInfoNotFoundError:  # a KeyError, so caught first
        return f"SCHEDULES[{job!r}] names an unknown time zone {zone!r}; try {BERLIN!r}"
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


ONE_STATEMENT = "killed inside the job's first DELETE, which had every row to itself"


class Crash(Exception):
    """Stands in for the process dying (deploy, OOM kill) in the middle of a job."""


def crash_when(env: RunEnv, rows: int) -> Callable[[], None]:
    """Arm a crash at the first DELETE run once `rows` rows are deleted (counting the rows
    an executemany() is about to delete) — or inside the very first DELETE when it alone
    goes past that point (one statement for every row: a kill a third of the way through
    lands in it); returns the disarm function. Whatever the job had not committed by then
    is rolled back, as if the process had died."""
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
        removed = rows_deleted(clause, result)
        if not deleted[0] and removed >= rows:
            raise Crash(ONE_STATEMENT)
        deleted[0] += removed

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
    disarm, crashed = crash_when(env, to_delete // 3), ""
    try:
        with Session(env.engine) as session:
            module.expire_sessions(session, NOW)
    except Crash as exc:
        crashed = str(exc)
    finally:
        disarm()
    with Session(env.engine) as session:
        left = session.scalar(select(func.count()).where(UserSession.expires_at <= NOW)) or 0
    env.record("crash_kept_rows", to_delete - left)
    if to_delete - left == 0:
        env.note("crash_kept_rows", nothing_kept(to_delete, crashed))
    with Session(env.engine) as session:
        module.expire_sessions(session, NOW)
    left_ids = remaining(env.engine)["sessions"]
    wrong = int(left_ids != fingerprint(survivors(data)["sessions"]))
    env.record("crash_rerun_wrong", wrong)
    if wrong and crashed:
        env.note("crash_kept_rows", "after the crash, running the job again did not finish it")


def nothing_kept(to_delete: int, crashed: str) -> str:
    """Why no deletion survived: the kill undid uncommitted work, or the job never got
    as far as the kill point (it deleted nothing at all)."""
    if crashed == ONE_STATEMENT:
        return (
            f"one DELETE was removing all {to_delete} expired sessions when the job was "
            f"killed ({to_delete // 3} in): a statement's work is kept only once it commits, "
            "so none was — delete and commit in batches of up to 1,000"
        )
    if crashed:
        return (
            f"killed after deleting {to_delete // 3} of {to_delete} expired sessions, the "
            "job kept none of its deletions: nothing had been committed"
        )
    return (
        f"the job was to be killed after {to_delete // 3} of {to_delete} deletions, but it "
        "deleted no expired session at all, so there was nothing to keep (see the rows "
        "left, above)"
    )


CLAIMED_JOBS = ("expire_sessions", "purge_uploads")


@dataclass
class ClaimTally:
    """Slots raced, and how many ran twice or never, by threads and by processes."""

    slots: int = 0
    twice: dict[str, int] = field(default_factory=lambda: {"threads": 0, "processes": 0})
    never: int = 0

    def add(self, granted: int, by: str) -> None:
        self.slots += 1
        self.twice[by] += granted > 1
        self.never += granted == 0

    @property
    def errors(self) -> int:
        return sum(self.twice.values()) + self.never


def claims(module: ModuleType, env: RunEnv) -> None:
    """Two schedulers fire each slot at the same instant: one run per slot. Three slots per
    job race two threads, a fourth races two forked processes; then, claiming in the
    database, a scheduler that lost a slot claims the next one on the same session."""
    # Fresh slots on every run, even on a shared Redis whose claims from earlier grades
    # live on for their TTL: OS entropy, so no seeding of `random` can repeat an offset.
    offset = timedelta(weeks=1 + secrets.randbelow(300_000))
    tally = ClaimTally()
    for job in CLAIMED_JOBS:
        for index, slot in enumerate(required_times(job)[:4]):
            by = "processes" if index == 3 else "threads"
            tally.add(race(module, env, job, slot + offset, processes=by == "processes"), by)
    redis_client = env.services["redis"]
    if tally.errors:
        env.note("claim_errors", claims_said(tally, redis_client is not None))
    reuse = None if redis_client is not None else loser_claims_again(module, env, offset)
    if reuse:
        env.note("claim_errors", reuse)
    env.record("claim_errors", tally.errors + bool(reuse))


def claims_said(tally: ClaimTally, on_redis: bool) -> str:
    """What went wrong in the races, and the fix that fits it."""
    threads, processes = tally.twice["threads"], tally.twice["processes"]
    said = (
        f"of {tally.slots} slots fired by two schedulers at once (threads, then processes), "
        f"{threads + processes} ran twice and {tally.never} never ran"
    )
    if threads:
        step = (
            "one SET key value NX EX ttl, not a GET then a SET"
            if on_redis
            else ("insert a unique JobRun row and treat the loser's IntegrityError as a no")
        )
        return f"{said}: checking and claiming were two steps, both schedulers got in — {step}"
    if processes:
        return (
            f"{said}: the claim held between threads of one process but not between two "
            "processes — it lives in one process's memory; claim where every scheduler "
            "sees it (a JobRun row, or Redis)"
        )
    return f"{said}: both schedulers were told no — only the loser may get False"


def loser_claims_again(module: ModuleType, env: RunEnv, offset: timedelta) -> str | None:
    """A scheduler keeps its session: after losing a slot it must still claim the next.
    An IntegrityError left without session.rollback() makes that session unusable."""
    slot = REQUIRED["purge_uploads"].first + offset - timedelta(weeks=1)
    with Session(env.engine) as winner, Session(env.engine) as loser:
        try:
            module.claim(winner, None, "purge_uploads", slot)
            lost = module.claim(loser, None, "purge_uploads", slot)
            again = module.claim(loser, None, "purge_uploads", slot - timedelta(weeks=1))
        except SQLAlchemyError as exc:
            return (
                "a scheduler that lost a slot could not claim the next one on the same "
                f"session ({type(exc).__name__}): after the IntegrityError, call "
                "session.rollback() before returning False"
            )
    if lost or not again:
        return (
            f"claiming one after the other on one session, a lost slot gave {lost!r} and "
            f"the next free one {again!r}"
        )
    return None


def race(module: ModuleType, env: RunEnv, job: str, slot: datetime, processes: bool) -> int:
    def scheduler() -> bool:
        with Session(env.engine) as session:
            return bool(module.claim(session, env.services["redis"], job, slot))

    if not processes:
        return sum(release_together(2, scheduler))
    # A forked child must not reuse the parent's pooled connections (SQLAlchemy's advice).
    return sum(release_together_in_processes(2, scheduler, lambda: env.engine.dispose(close=False)))
