"""learner: Kevin, came from Java, writes actors as classes (dramatiq.GenericActor).
approach: GenerateReport(dramatiq.GenericActor) with a Meta holding the retry policy
(max_retries=5, min_backoff=250, max_backoff=30000) and on_retry_exhausted naming the
second class-based actor, ReportFailed (actor names are the class names). perform()
loads by id, returns when gone, uploads unless storage has the file, marks done.
"""

import dramatiq

from perfkata.katas.report_worker.app import db_session, render_pdf, storage
from perfkata.katas.report_worker.models import Report


class ReportFailed(dramatiq.GenericActor):
    class Meta:
        max_retries = 0

    def perform(self, message_data, retry_info):
        report_id = message_data["args"][0]
        with db_session() as session:
            report = session.get(Report, report_id)
            if report is not None:
                report.status = "failed"
                session.commit()


class GenerateReport(dramatiq.GenericActor):
    class Meta:
        max_retries = 5
        min_backoff = 250
        max_backoff = 30_000
        on_retry_exhausted = "ReportFailed"

    def perform(self, report_id):
        with db_session() as session:
            report = session.get(Report, report_id)
            if report is None:
                return
            self.store(report)
            report.status = "done"
            session.commit()

    @staticmethod
    def store(report):
        if storage.exists(report.file_key):
            return  # an earlier attempt stored it; its answer was lost
        storage.upload(report.file_key, render_pdf(report))


def request_report(session, report_id):
    GenerateReport.send(report_id)
