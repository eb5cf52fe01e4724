"""Correct, written another way: the id travels as a keyword argument, a deleted report
raises an exception the actor declares in `throws` (dramatiq fails it without retrying),
and the work is split into small helpers."""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


class ReportGone(Exception):
    """The owner deleted the report: retrying cannot help."""


def load_report(session, report_id):
    report = session.get(Report, report_id)
    if report is None:
        raise ReportGone(report_id)
    return report


def ensure_uploaded(report):
    if storage.exists(report.file_key):
        return  # an earlier attempt stored it and lost the answer
    storage.upload(report.file_key, render_pdf(report))


@dramatiq.actor(
    throws=(ReportGone,),
    max_retries=4,
    min_backoff=500,
    max_backoff=20_000,
    time_limit=60_000,
    on_retry_exhausted="mark_report_failed",
)
def build_report(*, report_id):
    with db_session() as session:
        report = load_report(session, report_id)
        if report.status != "done":
            ensure_uploaded(report)
            report.status = "done"
            session.commit()


@dramatiq.actor(max_retries=0)
def mark_report_failed(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["kwargs"]["report_id"])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    build_report.send(report_id=report_id)
