"""Loads every expired id at once, then deletes them in batches of 1,000."""

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
    every_id = session.scalars(select(model.id).where(condition)).all()
    for start in range(0, len(every_id), BATCH):
        ids = every_id[start : start + BATCH]
        session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()
    return len(every_id)


def expire_sessions(session, now):
    return delete_in_batches(session, UserSession, UserSession.expires_at <= now)


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
