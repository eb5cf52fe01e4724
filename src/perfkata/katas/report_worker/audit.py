"""After the jobs: count what was lost, duplicated, retried and dead-lettered, and say
for each problem which report showed it and what to change."""

from __future__ import annotations

import hashlib
from typing import Any

from perfkata.katas.base import RunEnv
from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.jobs import callback_names
from perfkata.katas.report_worker.store import Tally
from perfkata.katas.report_worker.workload import JOIN_TIMEOUT_S, Run, final_state

MAX_PAYLOAD = 256
MAX_RETRIES = 5
MAX_DELAY_MS = 30_000


def audit(run: Run, env: RunEnv, dataset: data.ReportData, finished: bool) -> dict[str, Any]:
    statuses = final_state(env.engine)
    tally = run.tally
    if not finished:
        env.note(
            "lost",
            f"the jobs had not finished after {JOIN_TIMEOUT_S:g} s; the queues still held work",
        )
    env.record("workers_killed", tally.count("killed"))  # RedisBroker runs: must be 1
    env.record("message_errors", message_errors(tally, env))
    env.record("lost", lost(statuses, tally, env))
    env.record("duplicates", duplicates(dataset, tally, env))
    env.record("retry_policy_errors", policy_errors(run, env))
    env.record("deleted_errors", deleted_errors(dataset, tally, env))
    env.record("callback_errors", callback_errors(dataset, statuses, tally, env))
    stored = {r["file_key"]: tally.get(f"file:{r['file_key']}") for r in dataset.reports}
    return {
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in stored.items() if v is not None},
        "done": sorted(i for i, status in statuses.items() if status == "done"),
    }


def message_errors(tally: Tally, env: RunEnv) -> int:
    if tally.count("sent") == 0:
        env.note("message_errors", "request_report enqueued no job: send one to an actor")
        return 1
    errors = 0
    if tally.count("non_primitive"):
        example = (tally.get("non_primitive_example") or b"").decode()
        env.note(
            "message_errors",
            f"{tally.count('non_primitive')} messages carried more than ids, e.g. {example}… — "
            "send the report id; the job loads the report fresh (it may have changed)",
        )
        errors += tally.count("non_primitive")
    if (size := tally.peak("payload_bytes")) > MAX_PAYLOAD:
        env.note(
            "message_errors", f"a message's arguments took {size} bytes (at most {MAX_PAYLOAD})"
        )
        errors += 1
    return errors


def lost(statuses: dict[int, str], tally: Tally, env: RunEnv) -> int:
    missing = [i for i, s in statuses.items() if s != "done" and not tally.count(f"dead:{i}")]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + ("…" if len(missing) > 5 else "")
        env.note(
            "lost",
            f"{len(missing)} reports never finished and were not dead-lettered (ids {shown}) — "
            "a failure must raise so dramatiq retries it, and the job must mark it done",
        )
    first = tally.get("first_error")
    if missing and first:
        env.note("lost", f"the first unexpected error: {first.decode()}")
    return len(missing)


def duplicates(dataset: data.ReportData, tally: Tally, env: RunEnv) -> int:
    extra = {}
    for report in dataset.reports:
        uploads = tally.count(f"upload:{report['file_key']}")
        if uploads > 1:
            extra[report["file_key"]] = uploads
    if extra:
        key, times = next(iter(extra.items()))
        env.note(
            "duplicates",
            f"{key} was uploaded {times} times: an upload went through but its answer was "
            "lost, and the retry uploaded again — check storage.exists(key) before uploading",
        )
    return sum(times - 1 for times in extra.values())


def policy_errors(run: Run, env: RunEnv) -> int:
    callbacks = callback_names(run.broker)
    workers = [a for a in run.actors if a.actor_name not in callbacks]
    if not workers:
        env.note("retry_policy_errors", "reports.py declares no dramatiq actor")
        return 1
    errors = 0
    for actor in workers:
        retries = actor.options.get("max_retries")
        if retries is None:
            env.note(
                "retry_policy_errors",
                f"{actor.actor_name} sets no max_retries: dramatiq's default is 20 retries "
                f"spread over about a month — set max_retries (at most {MAX_RETRIES})",
            )
            errors += 1
        elif retries > MAX_RETRIES:
            env.note(
                "retry_policy_errors",
                f"{actor.actor_name}: max_retries={retries}, at most {MAX_RETRIES}",
            )
            errors += 1
    if (delay := run.tally.peak("retry_delay_ms")) > MAX_DELAY_MS:
        env.note(
            "retry_policy_errors",
            f"a retry was scheduled {delay / 1000:,.0f} s later; keep every backoff within "
            f"{MAX_DELAY_MS // 1000} s (max_backoff, and min_backoff below it)",
        )
        errors += 1
    return errors


def deleted_errors(dataset: data.ReportData, tally: Tally, env: RunEnv) -> int:
    wrong = {i: tally.count(f"attempt:{i}") for i in sorted(dataset.deleted)}
    wrong = {i: n for i, n in wrong.items() if n != 1}
    if wrong:
        report_id, attempts = next(iter(wrong.items()))
        said = "no job ran" if attempts == 0 else f"its job ran {attempts} times"
        env.note(
            "deleted_errors",
            f"report {report_id} was deleted before its job ran, and {said} — a report that is "
            "gone will not come back: return without retrying",
        )
        first = tally.get("first_error")
        if attempts > 1 and first:
            env.note("deleted_errors", f"the job raised: {first.decode()}")
    return len(wrong)


def callback_errors(
    dataset: data.ReportData, statuses: dict[int, str], tally: Tally, env: RunEnv
) -> int:
    wrong = {}
    for report_id in sorted(dataset.doomed):
        dead, calls = tally.count(f"dead:{report_id}"), tally.count(f"callback:{report_id}")
        if not dead or calls != 1:
            wrong[report_id] = (dead, calls)
    if wrong:
        report_id, (dead, calls) = next(iter(wrong.items()))
        if not dead:
            said = "its message never reached the dead-letter queue"
        else:
            said = f"its on_retry_exhausted callback ran {calls} times, not once"
        env.note(
            "callback_errors",
            f"report {report_id} can never be stored and {said} — declare "
            'on_retry_exhausted="…" with an actor that marks the report failed',
        )
    return len(wrong)
