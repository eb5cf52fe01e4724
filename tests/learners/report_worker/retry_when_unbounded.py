"""Sets max_retries=4 but also a retry_when that says yes to every network error:
dramatiq ignores max_retries once retry_when is set, so a doomed upload retries forever."""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


def is_transient(retries, exc):
    return isinstance(exc, NetworkError)  # "max_retries below bounds it"


@dramatiq.actor(
    max_retries=4,
    retry_when=is_transient,
    min_backoff=200,
    max_backoff=5000,
    on_retry_exhausted="report_failed",
)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None or report.status == "done":
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def report_failed(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    generate_report.send(report_id)
