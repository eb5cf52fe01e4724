"""learner: Olu, always passes keyword arguments so a message reads like a log line.
approach: request_report sends generate_report.send(report_id=report_id), so the id
travels in the message's kwargs; the on_retry_exhausted actor reads
message_data["kwargs"]["report_id"]. The storage check comes before rendering, so a
retry after a lost answer costs a HEAD request, not a render. max_retries=4,
min_backoff=500, max_backoff=16000. Status updated with a Core UPDATE in the callback.
"""

import dramatiq
from sqlalchemy import update

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(
    max_retries=4,
    min_backoff=500,
    max_backoff=16_000,
    on_retry_exhausted="report_upload_exhausted",
)
def generate_report(*, report_id):
    with db_session() as db:
        report = db.get(Report, report_id)
        if report is None:
            return
        already_stored = storage.exists(report.file_key)
        if not already_stored:
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        db.commit()


@dramatiq.actor(max_retries=1, min_backoff=100, max_backoff=1000)
def report_upload_exhausted(message_data, retry_info):
    report_id = message_data["kwargs"]["report_id"]
    with db_session() as db:
        db.execute(update(Report).where(Report.id == report_id).values(status="failed"))
        db.commit()


def request_report(session, report_id):
    generate_report.send(report_id=report_id)
