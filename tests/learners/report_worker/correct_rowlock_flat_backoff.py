"""learner: Bogdan, a Postgres person who distrusts redelivery: he locks the row.
approach: the job loads the report with SELECT ... FOR UPDATE (with_for_update(); a no-op
on SQLite) so two deliveries of one message cannot interleave, skips reports already
"done", uploads only when storage.exists() is false, then marks done and commits (which
releases the lock). A flat retry policy: max_retries=2, min_backoff = max_backoff =
30000 ms: dramatiq's jitter is clamped back under max_backoff, so every delay is <= 30 s.
The failure callback is registered under an explicit actor_name.
"""

import dramatiq
from sqlalchemy import select

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

THIRTY_SECONDS_MS = 30_000


def _locked(session, report_id):
    return session.scalars(
        select(Report).where(Report.id == report_id).with_for_update()
    ).one_or_none()


@dramatiq.actor(actor_name="reports_mark_failed", max_retries=0)
def mark_failed(message_data, retry_info):
    with db_session() as session:
        report = _locked(session, message_data["args"][0])
        if report is not None and report.status != "done":
            report.status = "failed"
        session.commit()


@dramatiq.actor(
    max_retries=2,
    min_backoff=THIRTY_SECONDS_MS,
    max_backoff=THIRTY_SECONDS_MS,
    on_retry_exhausted="reports_mark_failed",
)
def produce_report(report_id):
    with db_session() as session:
        report = _locked(session, report_id)
        if report is None or report.status == "done":
            session.rollback()
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


def request_report(session, report_id):
    produce_report.send(report_id)
