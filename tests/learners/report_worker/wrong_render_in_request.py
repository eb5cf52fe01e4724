"""learner: Gil, "the slow, flaky part is the upload — move that to a job".
mistake: request_report still renders the PDF inside the request (CPU seconds in real
life) and sends the bytes, base64-encoded, to an upload-only actor. Upload retries and
idempotency are right.
expected: "messages: <= 256 bytes of arguments" fails (kilobytes of PDF), and "request
path speed-up >= 20x" fails (timing); "SQL statements in one request" passes (<= 2).
"""

import base64

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage  # noqa: F401
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def upload_report(report_id, file_key, pdf_b64):
    if not storage.exists(file_key):
        storage.upload(file_key, base64.b64decode(pdf_b64))
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
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
    report = session.get(Report, report_id)
    pdf = render_pdf(report)  # quick enough on my laptop
    upload_report.send(report.id, report.file_key, base64.b64encode(pdf).decode())
