"""Everything right but the digest is written in UTC: right in winter, an hour late
after Berlin moves its clocks forward on 28 March."""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * *",  # minute 15, hour 3, every day
    "purge_uploads": "0 2 * * 0",
    "send_digest": "0 8 * * *",  # 09:00 in Berlin, until the clocks change
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
