"""learner: Esra, a good retry policy and idempotent job, but no plan for the end.
mistake: max_retries=3 with short backoffs, and no on_retry_exhausted: the 3 doomed
reports end up in the dead-letter queue with status still "pending" forever — the user
sees a spinner, not "failed".
expected: "exhausted jobs: dead-lettered, callback ran exactly once" fails (callback
ran 0 times for 3 reports); "reports lost" may pass since they were dead-lettered.
"""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage  # noqa: F401
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(max_retries=3, min_backoff=100, max_backoff=2000)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return  # deleted by its owner: nothing to do, nothing to retry
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


def request_report(session, report_id):
    """The web request: enqueue, answer at once."""
    generate_report.send(report_id)
