"""Two scheduled cleanup jobs. They run at the wrong times, load whole tables, delete one
row at a time, and run twice when two schedulers fire the same slot.

`perfkata grade` evaluates SCHEDULES over five weeks, runs the jobs on 500, 2,000 and
10,000 sessions, crashes one mid-way, and races two schedulers on the same slots.
"""

from datetime import timedelta

from sqlalchemy import select

from perfkata.katas.cleanup_cron.models import Upload, UserSession

# TODO: sessions every day at 03:15 UTC; uploads every Sunday at 02:00 UTC;
# the digest every day at 09:00 Berlin time, in summer too.
# An entry is "cron" (read in UTC) or ("cron", "Area/City") for a local wall clock.
SCHEDULES = {
    "expire_sessions": "3 15 * * *",
    "purge_uploads": "0 2 * * 1",
    "send_digest": "0 8 * * *",  # 08:00 UTC is 09:00 in Berlin (in winter...)
}


def expire_sessions(session, now):
    # TODO: this loads every session into memory and deletes them one row at a time.
    deleted = 0
    for user_session in session.scalars(select(UserSession)).all():
        if user_session.expires_at <= now:
            session.delete(user_session)
            session.flush()  # one DELETE statement per row
            deleted += 1
    session.commit()  # TODO: one commit at the very end — a crash loses everything
    return deleted


def purge_uploads(session, now):
    # TODO: same problems as above.
    deleted = 0
    for upload in session.scalars(select(Upload)).all():
        if upload.deleted_at is not None and upload.deleted_at < now - timedelta(days=30):
            session.delete(upload)
            session.flush()
            deleted += 1
    session.commit()
    return deleted


def claim(session, redis, job, slot):
    # TODO: every scheduler runs every slot. Claim it: a JobRun row, or Redis SET NX.
    return True
