"""learner: Jana, "two workers must never upload the same file: lock it".
mistake: the job's exists/upload/commit runs under one module-level threading.Lock. No
duplicates, nothing lost — and the 4 worker threads now run one job at a time (the lock
also does nothing across processes, the case it was meant for).
expected: "the jobs on 4 threads vs 1 >= 2.5x faster" fails (~1x); with --no-timing
this check may not run, so the counted grade passes.
"""

import threading

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage  # noqa: F401
from perfkata.katas.report_worker.models import Report

_upload_lock = threading.Lock()


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(report_id):
    with _upload_lock, db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def report_failed(message_data, retry_info):
    report_id = message_data["args"][0]
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    """The web request: enqueue, answer at once."""
    generate_report.send(report_id)
