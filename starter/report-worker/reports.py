"""Report downloads. The web request renders the PDF and uploads it before answering:
slow for the user, and a storage hiccup loses the report.

`perfkata grade` sends 200 requests, deletes some reports before any job could run,
makes storage fail now and then, and counts what was lost, duplicated and retried.
"""

import dramatiq  # noqa: F401 — you will need it

from perfkata.katas.report_worker.app import (  # noqa: F401
    NetworkError,
    db_session,
    render_pdf,
    storage,
)
from perfkata.katas.report_worker.models import Report

# TODO: declare an actor that generates one report, with an explicit retry policy.
# Send it the report's id — not the Report object, not a dict of it.


def request_report(session, report_id):
    """The web request: a user asked for their report."""
    report = session.get(Report, report_id)
    pdf = render_pdf(report)  # TODO: seconds of CPU in real life — not in a request
    storage.upload(report.file_key, pdf)  # TODO: a slow network call that sometimes fails
    report.status = "done"
    session.commit()
