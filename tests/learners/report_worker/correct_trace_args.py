"""learner: Chen, observability-minded: every message carries a trace id for the logs.
approach: request_report sends (report_id, trace_id): the id plus a short uuid4 hex
string — both JSON primitives, well under 256 bytes. The job is split into small plain
functions (load, ensure_file, mark); the status is written with a Core UPDATE, and an
explicit rollback runs when the upload raises before NetworkError propagates to dramatiq.
max_retries=5, min_backoff=500, max_backoff=20000. The exhausted callback logs the
trace id and marks args[0] failed.
"""

import logging
import uuid

import dramatiq
from sqlalchemy import update

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

log = logging.getLogger("reports")


def _set_status(session, report_id, status):
    session.execute(update(Report).where(Report.id == report_id).values(status=status))
    session.commit()


def _ensure_file(report):
    if storage.exists(report.file_key):
        return False
    storage.upload(report.file_key, render_pdf(report))
    return True


@dramatiq.actor(
    max_retries=5,
    min_backoff=500,
    max_backoff=20_000,
    on_retry_exhausted="report_exhausted",
)
def make_report(report_id, trace_id):
    session = db_session()
    try:
        report = session.get(Report, report_id)
        if report is None:
            log.info("[%s] report %s is gone, nothing to do", trace_id, report_id)
            return
        uploaded = _ensure_file(report)
        _set_status(session, report_id, "done")
        log.info("[%s] report %s done (uploaded now: %s)", trace_id, report_id, uploaded)
    except NetworkError:
        session.rollback()
        raise
    finally:
        session.close()


@dramatiq.actor(max_retries=0)
def report_exhausted(message_data, retry_info):
    report_id, trace_id = message_data["args"]
    log.warning("[%s] giving up on report %s after %s", trace_id, report_id, retry_info)
    session = db_session()
    try:
        _set_status(session, report_id, "failed")
    finally:
        session.close()


def request_report(session, report_id):
    make_report.send(report_id, uuid.uuid4().hex)
