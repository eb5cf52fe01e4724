"""learner: Xena, "why pass now around? the job runs now".
mistake: ignores the `now` argument and uses the machine's clock,
datetime.now(timezone.utc) made naive, for both cutoffs. On a real server at the real
time this looks right; the grader's `now` is a fixed instant, so the rows deleted
depend on the day you grade.
expected: the gate "exactly the right rows deleted" fails (too many or too few rows:
rows between the grader's now and the wall clock).
"""

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

BATCH = 1000

SCHEDULES = {
    "expire_sessions": "15 3 * * *",
    "purge_uploads": "0 2 * * 0",
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}


def _delete_in_batches(session, model, condition):
    total = 0
    while True:
        ids = session.scalars(select(model.id).where(condition).limit(BATCH)).all()
        if not ids:
            return total
        session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()  # a crash keeps the batches already done
        total += len(ids)


def _utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def expire_sessions(session, now):
    now = _utcnow()  # the real time, not the caller's idea of it
    return _delete_in_batches(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    cutoff = _utcnow() - timedelta(days=30)
    return _delete_in_batches(session, Upload, Upload.deleted_at < cutoff)


def claim(session, redis, job, slot):
    if redis is not None:
        return bool(redis.set(f"cron:{job}:{slot.isoformat()}", 1, nx=True, ex=3600))
    session.add(JobRun(job=job, slot=slot))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # the other scheduler got there first
        return False
    return True
