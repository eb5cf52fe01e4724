"""Forges report-worker's job counters by patching RunEnv.record, with the starter's request.

attack: the kata's workload records what its job processes saw (reports lost,
    duplicates, message, retry and dead-letter problems, statements per request) through
    RunEnv.record; the solution replaces that method on perfkata's class so every one
    comes out ideal. The request still renders and uploads inline; there is no actor.
kata: report-worker
backend: sqlite
expect: tampering detected
"""

import dramatiq  # noqa: F401 — the starter's import, kept

from perfkata.katas.base import RunEnv
from perfkata.katas.report_worker.app import render_pdf, storage
from perfkata.katas.report_worker.models import Report

IDEAL = {
    "request_statements": 1.0,
    "message_errors": 0,
    "lost": 0,
    "duplicates": 0,
    "retry_policy_errors": 0,
    "deleted_errors": 0,
    "callback_errors": 0,
}
_record = RunEnv.record


def _ideal_record(self, name, value):
    _record(self, name, IDEAL.get(name, value))


RunEnv.record = _ideal_record


def request_report(session, report_id):
    report = session.get(Report, report_id)
    pdf = render_pdf(report)
    storage.upload(report.file_key, pdf)
    report.status = "done"
    session.commit()
