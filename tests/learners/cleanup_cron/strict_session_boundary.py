"""Keeps the sessions expiring exactly now (< instead of <=)."""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * *",  # minute 15, hour 3, every day
    "purge_uploads": "0 2 * * 0",  # 02:00 on Sundays (0 = Sunday)
    "send_digest": ("0 9 * * *", "Europe/Berlin"),  # 09:00 on Berlin's wall clock
}
BATCH = 1000


def delete_in_batches(session, model, condition):
    """Select up to BATCH ids, delete them, commit; repeat until none are left."""
    total = 0
    while True:
        ids = session.scalars(select(model.id).where(condition).limit(BATCH)).all()
        if not ids:
            return total
        session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()
        total += len(ids)


def expire_sessions(session, now):
    return delete_in_batches(session, UserSession, UserSession.expires_at < now)


def purge_uploads(session, now):
    cutoff = now - timedelta(days=30)
    return delete_in_batches(session, Upload, Upload.deleted_at < cutoff)


def claim(session, redis, job, slot):
    if redis is not None:
        return bool(redis.set(f"cron:{job}:{slot.isoformat()}", 1, nx=True, ex=3600))
    session.add(JobRun(job=job, slot=slot))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True
