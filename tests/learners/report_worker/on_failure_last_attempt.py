"""Correct with on_failure instead of on_retry_exhausted: the failure callback runs after
every failed attempt, so it only marks the report failed once the attempt that failed
was the last one its policy allows."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

MAX_RETRIES = 3


@dramatiq.actor(max_retries=MAX_RETRIES, min_backoff=250, max_backoff=4000, on_failure="failed")
def render_and_store(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return
        if report.status == "done":
            return
        if not storage.exists(report.file_key):
            pdf = render_pdf(report)
            storage.upload(report.file_key, pdf)
        report.status = "done"
        session.commit()


@dramatiq.actor(max_retries=0)
def failed(message_data, exception_data):
    # options["retries"] counts this attempt: above MAX_RETRIES means no retry follows
    if message_data["options"].get("retries", 0) <= MAX_RETRIES:
        return
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    render_and_store.send(report_id)
