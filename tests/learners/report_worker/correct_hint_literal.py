"""learner: Priya, follows the brief and the hints to the letter.
approach: one @dramatiq.actor(max_retries=3, min_backoff=100, max_backoff=2000,
on_retry_exhausted="report_failed") taking the report id as a positional argument;
request_report only sends it. The job opens its own session, returns quietly when the
report is gone, uploads only when storage.exists() is false, marks it done. The
report_failed(message_data, retry_info) actor (max_retries=0) marks args[0] failed.
"""

import dramatiq

from perfkata.katas.report_worker.app import (  # noqa: F401
    NetworkError,
    db_session,
    render_pdf,
    storage,
)
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(max_retries=0)
def report_failed(message_data, retry_info):
    report_id = message_data["args"][0]
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "failed"
            session.commit()


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return  # deleted by its owner: nothing to do, and no retry will change that
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))  # NetworkError -> retry
        report.status = "done"
        session.commit()


def request_report(session, report_id):
    """The web request: a user asked for their report."""
    generate_report.send(report_id)
