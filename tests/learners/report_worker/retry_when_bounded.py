"""Bounds retries with a retry_when predicate that only retries network errors, three
times at most, and leaves max_retries unset (dramatiq reads only retry_when then)."""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


def transient_and_young(retries, exc):
    return isinstance(exc, NetworkError) and retries < 3


@dramatiq.actor(
    retry_when=transient_and_young,
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
