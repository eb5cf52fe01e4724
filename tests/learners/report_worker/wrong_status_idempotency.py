"""learner: Chloe, "idempotent = skip the work if the report is already done".
mistake: the job checks report.status == "done" instead of storage.exists(file_key).
When an upload goes through but its answer is lost (NetworkError after storing), the
status is still "pending", so the retry uploads the same file a second time.
expected: "duplicate uploads = 0" fails (1: the ambiguous report's key uploaded twice);
the diagnostic should name the key and say the first upload had succeeded.
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
            return
        if report.status == "done":
            return  # already generated: idempotent
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
