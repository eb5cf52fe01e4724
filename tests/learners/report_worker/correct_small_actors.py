"""learner: Yuki, likes many small single-purpose actors and a request that checks input.
approach: request_report looks the report up (one SELECT) and enqueues only if it
exists, sending its id. generate_report (max_retries=4, min_backoff=1000 and no
max_backoff: dramatiq's delays are min_backoff * 2**retries with up to 2x jitter, so at
most 1-2, 2-4, 4-8, 8-16 s, below 30 s) does the upload + done,
then hands off to a tiny notify_owner actor. The exhausted callback is a plain
@dramatiq.actor (no options) that marks the report failed.
"""

import logging

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

log = logging.getLogger(__name__)


def _ensure_uploaded(report):
    if not storage.exists(report.file_key):
        storage.upload(report.file_key, render_pdf(report))


@dramatiq.actor(max_retries=4, min_backoff=1000, on_retry_exhausted="mark_report_failed")
def generate_report(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            log.info("report %s was deleted before its job ran", report_id)
            return
        _ensure_uploaded(report)
        report.status = "done"
        session.commit()
    notify_owner.send(report_id)


@dramatiq.actor(max_retries=2, min_backoff=1000, max_backoff=5000)
def notify_owner(report_id):
    log.info("report %s is ready to download", report_id)


@dramatiq.actor
def mark_report_failed(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    if session.get(Report, report_id) is not None:
        generate_report.send(report_id)
