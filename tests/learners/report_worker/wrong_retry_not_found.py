"""learner: Bruno, "a missing row is an error, errors should be loud".
mistake: when the report is gone the job raises LookupError instead of returning. The
Retries middleware retries it (3 times) and then the exhaustion callback runs for a
report that no longer exists — four executions for a deleted report, and noise in the
dead-letter queue.
expected: "deleted reports: their job ran exactly once" fails (ran 4 times each); the
diagnostic should say "return when the report is None; do not raise".
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
            raise LookupError(f"report {report_id} not found")
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
