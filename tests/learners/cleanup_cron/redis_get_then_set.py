"""learner: Zoe, uses Redis when it is there, and JobRun otherwise.
mistake: with Redis it checks `redis.get(key)` and then `redis.set(key, 1, ex=3600)`
— two round trips, not SET NX: two schedulers can both read "free" and both run. The
database path is right, so the default grade (no --redis-url) cannot see it.
expected: with --redis-url, "two schedulers on one slot" fails (two runs, at least
sometimes — a race); without Redis, it passes (not exercised).
"""

from datetime import timedelta

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


def expire_sessions(session, now):
    return _delete_in_batches(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    cutoff = now - timedelta(days=30)
    return _delete_in_batches(session, Upload, Upload.deleted_at < cutoff)


def claim(session, redis, job, slot):
    if redis is not None:
        key = f"cron:{job}:{slot.isoformat()}"
        if redis.get(key):
            return False
        redis.set(key, 1, ex=3600)
        return True
    session.add(JobRun(job=job, slot=slot))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True
