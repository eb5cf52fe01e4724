"""The report-worker kata: move slow report generation out of the web request into a
dramatiq job, and make that job reliable — nothing lost, nothing duplicated, bounded
retries, no retrying what is gone, a dead letter and a callback for what cannot succeed."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from perfkata.katas.base import Check, define_kata
from perfkata.katas.effects import TimedEffect

# processes: imported now, not first when jobs run on Redis (workload.run_jobs imports it
# there), so the audit hook's snapshot, taken once the kata is loaded, covers it too.
from perfkata.katas.report_worker import data, processes  # noqa: F401
from perfkata.katas.report_worker.jobs import placeholder_broker
from perfkata.katas.report_worker.models import Base
from perfkata.katas.report_worker.scenarios import (
    JOBS_EFFECT,
    THROUGHPUT_METRIC,
    TIMED_THROUGHPUT,
    has_actor,
    run_reports,
)
from perfkata.katas.report_worker.workload import (
    report_services,
    requests_effect,
    timed_requests,
    verify_requests,
)

# Every timed call's effect is checked too (katas/effects.py): a request path or a job
# that skips its work when nothing watches it would otherwise be timed doing nothing.
TIMED_EFFECTS = {
    "timed": TimedEffect(requests_effect, verify_requests),
    **{kind: JOBS_EFFECT for kind in TIMED_THROUGHPUT},
}


def verify_reports(dataset: data.ReportData, output: Any) -> str | None:
    """Every stored file is the right rendering of its report; "done" means stored."""
    expected = data.expected_files(dataset)
    for report_id in output.get("done", []):
        if data.file_key(report_id) not in output.get("files", {}):
            return f"report {report_id} is marked done, but its file was never uploaded"
    if not output.get("files"):  # else "every stored file is right" holds of no file at all
        return "no report's file was stored: render each report and upload it in the job"
    for key, digest in sorted(output.get("files", {}).items()):
        if expected.get(key) != digest:
            return f"{key} holds the wrong content: render the report with render_pdf(report)"
    return None


HINTS = (
    "Move the work into an actor: `@dramatiq.actor(max_retries=3, min_backoff=100, "
    "max_backoff=2000)` on a `generate_report(report_id)`, and make request_report just "
    "`generate_report.send(report_id)` — the id, never the report object.",
    "Inside the job, open your own session (`with db_session() as session:`), load the "
    "report by id, and return quietly when it is None: it was deleted, and no retry will "
    "bring it back. Let NetworkError escape, so dramatiq retries it.",
    "Make the upload idempotent: a retry may follow an upload that went through — "
    "`if not storage.exists(report.file_key): storage.upload(...)`, then mark it done.",
    'For the uploads that never succeed, add `on_retry_exhausted="report_failed"` and an '
    "actor `report_failed(message_data, retry_info)` that marks "
    '`message_data["args"][0]` failed (give it max_retries=0).',
)

KATA = define_kata(
    slug="report-worker",
    title="The report that renders inside the web request",
    difficulty="advanced",
    summary="Move work into a dramatiq job that is never lost, duplicated or retried forever.",
    files=("reports.py",),
    entry_points=("request_report",),
    sizes=(200,),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_reports,
    workload=run_reports,
    timed=timed_requests,
    environment=report_services,
    scenarios={"has-actor": has_actor},
    extras={"timed": TIMED_THROUGHPUT, "timed_effects": TIMED_EFFECTS},
    mutates_data=True,
    prepare=placeholder_broker,
    rubric=(
        Check.of(
            "correct",
            "right files stored",
            "correct",
            "==1",
            10,
            "Render each report with render_pdf(report) and store it under report.file_key.",
            gate=True,
        ),
        Check.of(
            "speedup",
            "request speed-up vs starter",
            "speedup",
            # The floor decides: the reference's request only enqueues (~250x on the stub
            # broker), while a correct request may also read its report (<= 2 statements,
            # its own check) and measured 33x = 0.13x the reference, so a share of the
            # reference's figure would fail it. Rendering in the request measures ~1x; the
            # floor must stay far below what the reference shows on a busy machine: on
            # Redis, through the parent's counting proxy (two hops per enqueue), the
            # reference measured 5-19x at load 6-10 and a 4x floor left 2 grades in 5
            # inconclusive; 2x still fails rendering in the request (~1x).
            ">=0.04*ref & >=2",
            15,
            "The request should only enqueue: render and upload in the job.",
        ),
        Check.of(
            "request-statements",
            "statements per request",
            "request_statements",
            "<=2",
            10,
            "Do not load the report in the request; send its id and let the job load it.",
        ),
        Check.of(
            "messages",
            "message problems",
            "message_errors",
            "==0",
            10,
            "Send JSON primitives (the report id), under 256 bytes, never objects or dicts.",
        ),
        Check.of(
            "lost",
            "reports lost",
            "lost",
            "==0",
            15,
            "Every report must end done — or, once its retries run out, dead-lettered.",
        ),
        Check.of(
            "duplicates",
            "duplicate uploads",
            "duplicates",
            "==0",
            10,
            "A file that is already stored must not be uploaded again, by a retry or a second job.",
        ),
        Check.of(
            "retries",
            "retry policy problems",
            "retry_policy_errors",
            "==0",
            10,
            "The retries dramatiq makes (max_retries, or retry_when when set): at most 5, each "
            "within 30 s.",
        ),
        Check.of(
            "deleted",
            "deleted reports retried, stored or not run",
            "deleted_errors",
            "==0",
            5,
            "A deleted report: store nothing and do not retry — return, or fail without a retry.",
        ),
        Check.of(
            "dead-letter",
            "reports wrongly or never marked failed",
            "callback_errors",
            "==0",
            5,
            "A job that runs out of retries ends dead-lettered with its report marked failed; a "
            "report that a retry stores is never marked failed.",
        ),
        Check.of(
            "throughput",
            "jobs faster on 4 threads than 1",
            THROUGHPUT_METRIC,
            # serialised jobs show 1.0; the reference 2.2-3.9 from idle to heavy load
            ">=0.6*ref & >=1.5",
            10,
            "Jobs wait on I/O: do not hold a lock or do the waiting outside the job.",
        ),
    ),
)
