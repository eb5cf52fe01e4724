"""Stores the file, then "emails the owner" before marking the report done — but users
have no email column: every attempt raises AttributeError after the upload, the retries
run out, and the callback marks failed a report whose file is stored."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


def send_ready_mail(report):
    address = report.owner.email  # there is no such column
    print(f"mail to {address}: your report {report.id} is ready")


@dramatiq.actor(max_retries=2, min_backoff=200, max_backoff=1000, on_retry_exhausted="failed")
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None or report.status == "done":
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        send_ready_mail(report)
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def failed(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    generate_report.send(report_id)
