"""Retries well, but when retries run out nobody hears of it: no on_retry_exhausted."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(max_retries=3, min_backoff=100, max_backoff=2000)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None or report.status == "done":
            return  # deleted after it was requested, or done by an earlier attempt
        if not storage.exists(report.file_key):  # a retry may follow a lost answer
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


def request_report(session, report_id):
    generate_report.send(report_id)
