"""Correct with a middleware instead of a callback actor: when dramatiq gives up on a
message (after_nack), the middleware marks its report failed. The actor lives on its
own queue, and a class holds the job's steps."""

import dramatiq
from dramatiq.middleware import Middleware

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


class MarkFailedOnDeadLetter(Middleware):
    def after_nack(self, broker, message):
        if message.actor_name != "generate_report":
            return
        with db_session() as session:
            report = session.get(Report, message.args[0])
            if report is not None and report.status != "done":
                report.status = "failed"
                session.commit()


dramatiq.get_broker().add_middleware(MarkFailedOnDeadLetter())


class ReportJob:
    def __init__(self, session, report_id):
        self.session = session
        self.report = session.get(Report, report_id)

    def run(self):
        if self.report is None or self.report.status == "done":
            return
        key = self.report.file_key
        if not storage.exists(key):
            storage.upload(key, render_pdf(self.report))
        self.report.status = "done"
        self.session.commit()


@dramatiq.actor(queue_name="reports", max_retries=5, min_backoff=1000, max_backoff=30_000)
def generate_report(report_id):
    with db_session() as session:
        ReportJob(session, report_id).run()


def request_report(session, report_id):
    generate_report.send(report_id)
