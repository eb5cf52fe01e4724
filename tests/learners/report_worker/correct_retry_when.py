"""learner: Marco, read the dramatiq docs and prefers a retry predicate to a counter.
approach: retry_when=should_retry bounds the retries itself (NetworkError only, at most
4 retries) instead of max_retries; min_backoff=1000 and max_backoff=30000 keep every
delay within 30 s. Non-network errors are not retried at all. on_retry_exhausted
names mark_failed, which receives the message dict and retry info. Session handled with
try/finally, the PDF rendered only when the file is missing.
"""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

MAX_ATTEMPTS = 5  # the first run plus four retries


def should_retry(retries_so_far, exception):
    return isinstance(exception, NetworkError) and retries_so_far < MAX_ATTEMPTS - 1


@dramatiq.actor(
    retry_when=should_retry,
    min_backoff=1_000,
    max_backoff=30_000,
    on_retry_exhausted="mark_failed",
)
def build_report(report_id):
    session = db_session()
    try:
        report = session.get(Report, report_id)
        if report is None:
            return
        key = report.file_key
        if not storage.exists(key):
            pdf = render_pdf(report)
            storage.upload(key, pdf)
        report.status = "done"
        session.commit()
    finally:
        session.close()


@dramatiq.actor(max_retries=0)
def mark_failed(message_data, retry_info):
    (report_id,) = message_data["args"]
    session = db_session()
    try:
        report = session.get(Report, report_id)
        if report:
            report.status = "failed"
            session.commit()
    finally:
        session.close()


def request_report(session, report_id):
    build_report.send(report_id)
