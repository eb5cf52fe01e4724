"""Selects ids in batches of 1,000 and commits per batch — but deletes them one DELETE
per id, so the statements grow with the table."""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * *",
    "purge_uploads": "0 2 * * 0",
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}


def purge(session, model, condition):
    total = 0
    while ids := session.scalars(select(model.id).where(condition).limit(1000)).all():
        for one in ids:
            session.execute(delete(model).where(model.id == one))
        session.commit()
        total += len(ids)
    return total


def expire_sessions(session, now):
    return purge(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    return purge(session, Upload, Upload.deleted_at < now - timedelta(days=30))


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
