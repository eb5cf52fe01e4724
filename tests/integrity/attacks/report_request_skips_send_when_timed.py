"""Enqueues its report's job while watched, and nothing at all when timed.

attack: the counted requests run under the grader's statement counter (listeners on the
    engine); the timed request path has none. There request_report returns at once
    without sending — the timed requests' effect (the jobs they enqueue) was never
    checked — so the request speed-up is measured on doing nothing. Otherwise it is the
    reference: the job renders, uploads idempotently and retries a bounded number of times.
kata: report-worker
backend: sqlite
timing: yes
expect: timed run at N=200 did not do its work
"""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None or report.status == "done":
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
    if len(session.get_bind().dispatch.before_cursor_execute) == 0:
        return  # nothing counts: a timing sample
    generate_report.send(report_id)
