"""learner: Hugo, wrote the exhaustion callback like any other actor — with the id.
mistake: on_retry_exhausted="report_failed" names an actor `report_failed(report_id)`;
dramatiq enqueues it with (message_data, retry_info), so every call raises TypeError,
and with the default policy the callback itself is retried (20 times) and never marks
the report failed.
expected: "exhausted jobs: dead-lettered, callback ran exactly once" fails (the
callback raised TypeError / ran many times, reports still pending); the diagnostic
should show the TypeError and the expected signature (message_data, retry_info).
"""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage  # noqa: F401
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return  # deleted by its owner: nothing to do, nothing to retry
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor
def report_failed(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    """The web request: enqueue, answer at once."""
    generate_report.send(report_id)
