"""After the jobs: count what was lost, duplicated, retried and dead-lettered, and say
for each problem which report showed it, what was seen happen to it, and what to change.

Every verdict reads what happened (attempts, retries, dead letters, the database's final
statuses), so any correct shape passes: a callback actor or a middleware, `throws=` or an
early return, max_retries or retry_when."""

from __future__ import annotations

import hashlib
from typing import Any

from perfkata.katas.base import RunEnv
from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.app import NetworkError
from perfkata.katas.report_worker.jobs import RUNAWAY_RETRIES, learner_middleware
from perfkata.katas.report_worker.policy import Policy, declared_policy
from perfkata.katas.report_worker.store import Tally
from perfkata.katas.report_worker.workload import JOIN_TIMEOUT_S, Run, final_state

MAX_PAYLOAD = 256
MAX_RETRIES = 5
MAX_DELAY_MS = 30_000
FAILURE_OPTIONS = ("on_retry_exhausted", "on_failure")
SIGNATURES = {
    "on_retry_exhausted": "an on_retry_exhausted actor with (message_data, retry_info)",
    "on_failure": "an on_failure actor with (message_data, exception_data)",
    "": "a failure callback with (message_data, retry_info or exception_data)",
}
PROBE = NetworkError("upload timed out (the grader asking retry_when)")


def audit(run: Run, env: RunEnv, dataset: data.ReportData, finished: bool) -> dict[str, Any]:
    statuses = final_state(env.engine)
    tally = run.tally
    if not finished:
        env.note(
            "lost",
            f"the jobs had not finished after {JOIN_TIMEOUT_S:g} s; the queues still held work",
        )
    env.record("workers_killed", tally.count("killed"))  # RedisBroker runs: must be 1
    env.record("runaway_retries", tally.count("runaway_retries"))
    env.record("message_errors", message_errors(tally, env))
    env.record("lost", lost(dataset, statuses, tally, env))
    env.record("duplicates", duplicates(dataset, tally, env))
    env.record("retry_policy_errors", policy_errors(run, dataset, env))
    env.record("deleted_errors", deleted_errors(dataset, tally, env))
    env.record("callback_errors", callback_errors(run, dataset, statuses, env))
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


def stored(tally: Tally, report_id: int) -> bool:
    return tally.get(f"file:{data.file_key(report_id)}") is not None


def lost(dataset: data.ReportData, statuses: dict[int, str], tally: Tally, env: RunEnv) -> int:
    """Reports that ended neither done nor dead-lettered. A runaway retry is the retry
    policy's failure and a stored report marked failed the failure handling's: each is
    counted (and explained) once, under its own check."""
    missing = [
        i
        for i, status in statuses.items()
        if status != "done"
        and not tally.count(f"dead:{i}")
        and not tally.count(f"runaway:{i}")
        and not (status == "failed" and stored(tally, i))
    ]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + ("…" if len(missing) > 5 else "")
        env.note(
            "lost",
            f"{len(missing)} reports never finished and were not dead-lettered (ids {shown}) — "
            + why_lost(missing[0], statuses[missing[0]], tally),
        )
    first = tally.get("first_error")
    if missing and first:
        env.note("lost", f"the first unexpected error: {first.decode()}")
    return len(missing)


def why_lost(report_id: int, status: str, tally: Tally) -> str:
    """What happened to one lost report, as the recorder saw it."""
    attempts = tally.count(f"attempt:{report_id}")
    if stored(tally, report_id):
        return (
            f"report {report_id}'s file was stored, but the report stayed '{status}': set "
            'status = "done" and commit once the upload went through'
        )
    if not tally.count(f"sent:{report_id}"):
        return f"request_report sent no message for report {report_id}"
    if attempts == 0:
        return f"the message for report {report_id} was sent, but no job ever ran for it"
    if not tally.count(f"raised:{report_id}"):
        return (
            f"report {report_id}'s job ran {attempts} time(s) and returned without raising, "
            "though its file was never stored: dramatiq saw success, so it neither retried "
            "nor dead-lettered it — let NetworkError raise"
        )
    return (
        f"report {report_id}'s job raised {tally.count(f'raised:{report_id}')} time(s), yet "
        "its message was neither retried to success nor dead-lettered"
    )


def duplicates(dataset: data.ReportData, tally: Tally, env: RunEnv) -> int:
    extra = {}
    for report in dataset.reports:
        uploads = tally.count(f"upload:{report['file_key']}")
        if uploads > 1:
            extra[report["id"]] = uploads
    if extra:
        report_id, times = next(iter(extra.items()))
        env.note("duplicates", why_duplicate(report_id, times, tally))
    return sum(times - 1 for times in extra.values())


def why_duplicate(report_id: int, times: int, tally: Tally) -> str:
    key, sent = data.file_key(report_id), tally.count(f"sent:{report_id}")
    said = f"{key} was uploaded {times} times"
    if sent > 1:
        return (
            f"{said}: request_report sent {sent} messages for report {report_id}, and each "
            "job uploaded it — send one message per request"
        )
    if not tally.count(f"exists:{key}"):
        return (
            f"{said}: an upload went through but its answer was lost, and the retry uploaded "
            "again — check storage.exists(key) before uploading"
        )
    return (
        f"{said}, although storage.exists was asked about it {tally.count(f'exists:{key}')} "
        "time(s): an attempt uploaded without asking first — ask storage.exists(key) right "
        "before every upload of that key"
    )


def policy_errors(run: Run, dataset: data.ReportData, env: RunEnv) -> int:
    """Judge the retries dramatiq really made (retry_when overrides max_retries, a
    message's options override its actor's) and, where no job ran out of retries to show
    it, the policy each actor declares as dramatiq would apply it."""
    workers = job_actors(run)
    if not workers:
        env.note("retry_policy_errors", "reports.py declares no dramatiq actor")
        return 1
    policies = {a.actor_name: declared_policy(a, run.broker, PROBE) for a in workers}
    errors = observed_retries(run, dataset, policies, env)
    if not errors and not run.tally.count("exhausted"):
        for name, policy in policies.items():
            if policy.retries > MAX_RETRIES:
                env.note("retry_policy_errors", f"{policy.describe(name)} — at most {MAX_RETRIES}")
                errors += 1
    if (delay := run.tally.peak("retry_delay_ms")) > MAX_DELAY_MS:
        env.note(
            "retry_policy_errors",
            f"a retry was scheduled {delay / 1000:,.0f} s later; keep every backoff within "
            f"{MAX_DELAY_MS // 1000} s (max_backoff, and min_backoff below it)",
        )
        errors += 1
    return errors


def observed_retries(
    run: Run, dataset: data.ReportData, policies: dict[str, Policy], env: RunEnv
) -> int:
    retried = {r["id"]: run.tally.peak(f"retried:{r['id']}") for r in dataset.reports}
    report_id, most = max(retried.items(), key=lambda item: item[1])
    runaway = [i for i in retried if run.tally.count(f"runaway:{i}")]
    why = "; ".join(
        policy.describe(name) for name, policy in policies.items() if policy.retries > MAX_RETRIES
    )
    if runaway:
        env.note(
            "retry_policy_errors",
            f"report {runaway[0]} was still being retried after {RUNAWAY_RETRIES} retries, and "
            f"the grader stopped it ({len(runaway)} such reports)"
            + (f" — {why}" if why else "")
            + f"; stop after {MAX_RETRIES} retries at most",
        )
        return len(runaway)
    if most > MAX_RETRIES:
        env.note(
            "retry_policy_errors",
            f"report {report_id} was retried {most} times (at most {MAX_RETRIES})"
            + (f" — {why}" if why else ""),
        )
        return 1
    return 0


def job_actors(run: Run) -> list[Any]:
    """The learner's actors that are not failure callbacks (named by another actor's
    on_retry_exhausted / on_failure, or seen receiving a failed message)."""
    named = {a.options.get(option) for a in run.actors for option in FAILURE_OPTIONS}
    return [
        a
        for a in run.actors
        if a.actor_name not in named and run.tally.get(f"callback_kind:{a.actor_name}") is None
    ]


def deleted_errors(dataset: data.ReportData, tally: Tally, env: RunEnv) -> int:
    """A deleted report's job runs, stores nothing and is not retried (an early return,
    `throws=`, or a retry_when that says no are all fine)."""
    wrong = {}
    for report_id in sorted(dataset.deleted):
        if (problem := deleted_problem(report_id, tally)) is not None:
            wrong[report_id] = problem
    if wrong:
        report_id, problem = next(iter(wrong.items()))
        env.note(
            "deleted_errors", f"report {report_id} was deleted before its job ran, and {problem}"
        )
        first = tally.get("first_error")
        if tally.peak(f"retried:{report_id}") and first:
            env.note("deleted_errors", f"the job raised: {first.decode()}")
    return len(wrong)


def deleted_problem(report_id: int, tally: Tally) -> str | None:
    if not tally.count(f"attempt:{report_id}"):
        return "no job ran for it"
    if stored(tally, report_id):
        return (
            "its file was uploaded all the same — load the report by id in the job, and do "
            "nothing when it is gone"
        )
    if retried := tally.peak(f"retried:{report_id}"):
        return (
            f"its job was retried {retried} times — a report that is gone will not come back: "
            "return without retrying"
        )
    return None


def callback_errors(
    run: Run, dataset: data.ReportData, statuses: dict[int, str], env: RunEnv
) -> int:
    """A report that can never be stored ends dead-lettered and marked failed; a report
    that was stored is never marked failed on the way."""
    tally, wrong = run.tally, 0
    for report_id in sorted(dataset.doomed):
        if (problem := doomed_problem(run, report_id, statuses.get(report_id))) is not None:
            if not wrong:
                env.note(
                    "callback_errors", f"report {report_id} can never be stored, and {problem}"
                )
            wrong += 1
    survivors = [
        i
        for i, status in sorted(statuses.items())
        if i not in dataset.doomed and stored(tally, i) and marked_failed(tally, i, status)
    ]
    if survivors:
        env.note("callback_errors", wrongly_failed(run, survivors))
    return wrong + len(survivors)


def marked_failed(tally: Tally, report_id: int, status: str) -> bool:
    return status == "failed" or bool(tally.count(f"marked_failed:{report_id}"))


def doomed_problem(run: Run, report_id: int, status: str | None) -> str | None:
    tally = run.tally
    if tally.count(f"runaway:{report_id}"):
        return (
            f"its retries never ran out: the grader stopped them after {RUNAWAY_RETRIES} "
            "(see the retry policy)"
        )
    if not tally.count(f"dead:{report_id}"):
        return "its message never reached the dead-letter queue: " + why_lost(
            report_id, status or "missing", tally
        )
    if status == "failed":
        return None
    return f"its message was dead-lettered, but the report stayed '{status}': " + unmarked(
        run, report_id
    )


def failure_callbacks(run: Run) -> dict[str, str]:
    """Callback actor -> the option that names it: declared on a job actor, or seen
    receiving a failed message (an option given per message with send_with_options)."""
    callbacks = {
        name: option
        for a in job_actors(run)
        for option in FAILURE_OPTIONS
        if (name := a.options.get(option))
    }
    for actor in run.actors:
        if (kind := run.tally.get(f"callback_kind:{actor.actor_name}")) is not None:
            callbacks.setdefault(actor.actor_name, kind.decode())
    return callbacks


def unmarked(run: Run, report_id: int) -> str:
    """Why a dead-lettered report was not marked failed, from what the learner declared."""
    callbacks = failure_callbacks(run)
    ran = run.tally.count(f"callback:{report_id}")
    if ran:
        names = ", ".join(callbacks) or "your failure callback"
        said = f"{names} ran {ran} time(s) for it and did not leave it marked failed"
        error = run.tally.get("first_callback_error")
        if error is None:
            return f'{said} — set status = "failed" and commit'
        said = f"{said}: {error.decode()}"
        if b"TypeError" in error:
            kind = next(iter(callbacks.values()), "")
            return f"{said} — dramatiq calls {SIGNATURES.get(kind, SIGNATURES[''])}"
        return said
    if callbacks:
        name, option = next(iter(callbacks.items()))
        return f'{option}="{name}" is declared, but {name} never ran for it'
    if middleware := learner_middleware(run.broker):
        return f"nothing marked it failed (not even {', '.join(middleware)})"
    return (
        'nothing marks it failed — declare on_retry_exhausted="…" naming an actor '
        "(message_data, retry_info) that marks the report failed"
    )


def wrongly_failed(run: Run, survivors: list[int]) -> str:
    first = survivors[0]
    if run.tally.count(f"dead:{first}"):  # the job itself kept failing after the upload
        error = run.tally.get("first_error")
        return (
            f"report {first}'s file was stored, yet its job raised on every attempt until its "
            f"retries ran out, and it was marked failed ({len(survivors)} such reports)"
            + (f" — the first unexpected error: {error.decode()}" if error else "")
        )
    kinds = failure_callbacks(run)
    said = (
        f"report {survivors[0]} was stored by a retry, yet was marked failed "
        f"({len(survivors)} such reports)"
    )
    if "on_failure" in kinds.values():
        return (
            f"{said}: on_failure runs after every failed attempt, retried or not — use "
            "on_retry_exhausted, or act only when no retry follows"
        )
    return f"{said}: mark a report failed only once its retries have run out"
