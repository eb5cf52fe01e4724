"""Right in every way but the message: it carries a snapshot of the report (its params
run to hundreds of bytes, and they may change before the job runs) instead of the id."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(snapshot):
    with db_session() as session:
        report = session.get(Report, snapshot["id"])
        if report is None or report.status == "done":
            return  # deleted after it was requested, or done by an earlier attempt
        if not storage.exists(report.file_key):  # a retry may follow a lost answer
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def report_failed(message_data, retry_info):
    report_id = message_data["args"][0]["id"]
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    report = session.get(Report, report_id)
    snapshot = {
        "id": report.id,
        "params": report.params,
        "file_key": report.file_key,
        "owner": report.owner_id,
    }
    generate_report.send(snapshot)
