"""learner: Aiko, knows an ORM object will not pickle into JSON — so sends a dict of it.
mistake: request_report loads the report and sends {"id", "file_key", "params",
"owner"} to the actor, which renders from the dict. The message carries the report's
params (often hundreds of bytes) and a snapshot that goes stale if the report changes
before the job runs; the job never re-reads the database, so a report deleted in the
meantime is still rendered and uploaded, and its status is written by id.
expected: "messages: JSON primitives, <= 256 bytes of arguments" fails (a dict argument,
size > 256 bytes); "deleted reports: their job ran exactly once" may pass while the
deleted report's file is uploaded anyway.
"""

import dramatiq

from perfkata.katas.report_worker.app import NetworkError, db_session, render_pdf, storage  # noqa: F401
from perfkata.katas.report_worker.models import Report


class _Snapshot:
    """Quacks like a Report for render_pdf."""

    def __init__(self, data):
        self.params = data["params"]
        self.owner = type("Owner", (), {"name": data["owner"]})()


@dramatiq.actor(
    max_retries=3, min_backoff=100, max_backoff=2000, on_retry_exhausted="report_failed"
)
def generate_report(data):
    if not storage.exists(data["file_key"]):
        storage.upload(data["file_key"], render_pdf(_Snapshot(data)))
    with db_session() as session:
        report = session.get(Report, data["id"])
        if report is not None:
            report.status = "done"
            session.commit()


@dramatiq.actor(max_retries=0)
def report_failed(message_data, retry_info):
    report_id = message_data["args"][0]["id"]
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    report = session.get(Report, report_id)
    generate_report.send(
        {
            "id": report.id,
            "file_key": report.file_key,
            "params": report.params,
            "owner": report.owner.name,
        }
    )
