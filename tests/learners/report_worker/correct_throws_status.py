"""learner: Hannah, an exceptions person: "missing" is an error, just not a retryable one.
approach: the job raises ReportGone when the row is missing and the actor declares
throws=(ReportGone,), so dramatiq aborts that message without any retry (it runs
once). Idempotency in two layers: a report whose status is already "done" returns at
once (a redelivered message after a commit), and the upload is skipped when
storage.exists() says the file is there. max_retries=5, backoff 1 s .. 30 s.
"""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

assert NetworkError  # the exception dramatiq retries on: we simply let it propagate


class ReportGone(Exception):
    """The report was deleted before its job ran; retrying cannot bring it back."""


@dramatiq.actor(
    max_retries=5,
    min_backoff=1000,
    max_backoff=30000,
    throws=(ReportGone,),
    on_retry_exhausted="give_up_on_report",
)
def render_and_store(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            raise ReportGone(report_id)
        if report.status == "done":
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def give_up_on_report(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None and report.status != "done":
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    render_and_store.send(report_id)
