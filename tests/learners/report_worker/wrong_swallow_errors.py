"""learner: Femi, "a background job must never crash the worker".
mistake: wraps the upload in try/except NetworkError, logs and returns. No exception
reaches dramatiq, so nothing is ever retried: the 30 % of reports whose first upload
fails stay "pending" forever, and the retry policy is decoration.
expected: "reports lost (neither done nor dead-lettered) = 0" fails (~60 lost);
"exhausted jobs: callback ran" fails too (never exhausted).
"""

import logging

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

logger = logging.getLogger(__name__)


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return
        if not storage.exists(report.file_key):
            try:
                storage.upload(report.file_key, render_pdf(report))
            except NetworkError as error:
                logger.warning("upload of report %s failed: %s", report_id, error)
                return
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
