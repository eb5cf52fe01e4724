"""learner: Ines, ops-minded: reports get their own queue and the failure hook is set
where the message is sent.
approach: both actors live on queue "reports" (queue_name=); the generating actor has
max_retries=5, min_backoff=2000, max_backoff=30000; request_report uses
send_with_options(args=(report_id,), on_retry_exhausted="report_gave_up") — a message
option dramatiq's Retries middleware honours like the actor option. The actor also has
an explicit actor_name.
"""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report

QUEUE = "reports"


@dramatiq.actor(
    actor_name="reports.generate",
    queue_name=QUEUE,
    max_retries=5,
    min_backoff=2000,
    max_backoff=30000,
)
def generate(report_id):
    with db_session() as session:
        report = session.get(Report, report_id)
        if report is None:
            return
        if not storage.exists(report.file_key):
            storage.upload(report.file_key, render_pdf(report))
        report.status = "done"
        session.commit()


@dramatiq.actor(actor_name="report_gave_up", queue_name=QUEUE, max_retries=0)
def gave_up(message_data, retry_info):
    with db_session() as session:
        report = session.get(Report, message_data["args"][0])
        if report is not None:
            report.status = "failed"
            session.commit()


def request_report(session, report_id):
    generate.send_with_options(args=(report_id,), on_retry_exhausted="report_gave_up")
