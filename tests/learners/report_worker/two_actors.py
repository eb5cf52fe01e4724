"""Correct with two actors: one stores the file, then hands the report to a second that
marks it done; both retry a bounded number of times."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

POLICY = {"max_retries": 3, "min_backoff": 200, "max_backoff": 3000}


@dramatiq.actor(**POLICY, on_retry_exhausted="record_failure")
def store_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
    mark_done.send(report_id)


@dramatiq.actor(**POLICY)
def mark_done(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "done"
            session.commit()


@dramatiq.actor(max_retries=0)
def record_failure(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    store_report.send(report_id)
