"""learner: Ravi, an SRE who wants every schedule to say its zone and every DELETE to be
bounded by the primary key.
approach: walks the table in fixed primary-key windows (MIN(id)..MAX(id) of the matching
rows, 1,000 ids per window): DELETE ... WHERE id >= lo AND id < lo + 1000 AND <condition>,
commit per window, so no DELETE can touch more than 1,000 rows and a rerun resumes. Every
SCHEDULES entry is zoned: ("…", "Etc/UTC") for the UTC jobs, ("…", "Europe/Berlin") for
the digest. claim(): Redis SET NX EX, otherwise the JobRun insert inside a SAVEPOINT
(session.begin_nested()) so only the claim is rolled back on IntegrityError.
"""

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": ("15 3 * * *", "Etc/UTC"),
    "purge_uploads": ("0 2 * * 0", "Etc/UTC"),
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}

WINDOW = 1000


def _delete_by_windows(session, model, condition):
    lo, hi = session.execute(select(func.min(model.id), func.max(model.id)).where(condition)).one()
    session.commit()
    if lo is None:
        return 0
    removed = 0
    for start in range(lo, hi + 1, WINDOW):
        window = (model.id >= start) & (model.id < start + WINDOW)
        removed += session.execute(delete(model).where(window, condition)).rowcount
        session.commit()
    return removed


def expire_sessions(session, now):
    return _delete_by_windows(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    cutoff = now - timedelta(days=30)
    return _delete_by_windows(session, Upload, Upload.deleted_at < cutoff)


def claim(session, redis, job, slot):
    if redis is not None:
        return bool(redis.set(f"cron-slot:{job}:{slot.isoformat()}", "1", ex=12 * 3600, nx=True))
    try:
        with session.begin_nested():
            session.add(JobRun(job=job, slot=slot))
    except IntegrityError:
        session.commit()  # end the outer transaction too; the winner's row is there
        return False
    session.commit()
    return True
