"""Correct: a missing report raises LookupError, and retry_when refuses to retry it (the
retry-exhausted callback then finds nothing to mark); network errors retry four times."""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


def should_retry(retries_so_far, exc):
    if isinstance(exc, LookupError):
        return False
    return isinstance(exc, NetworkError) and retries_so_far < 4


@dramatiq.actor(
    retry_when=should_retry, min_backoff=100, max_backoff=10_000, on_retry_exhausted="give_up"
)
def make_report(report_id):
    with db_session() as s:
        r = s.get(Report, report_id)
        if not r:
            raise LookupError(f"report {report_id} is gone")
        if r.status == "done":
            return
        if not storage.exists(r.file_key):
            storage.upload(r.file_key, render_pdf(r))
        r.status = "done"
        s.commit()


@dramatiq.actor(max_retries=0)
def give_up(message_data, retry_info):
    with db_session() as s:
        r = s.get(Report, message_data["args"][0])
        if r:
            r.status = "failed"
            s.commit()


def request_report(session, report_id):
    make_report.send(report_id)
