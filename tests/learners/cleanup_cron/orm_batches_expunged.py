"""Loads ORM objects, but only 500 at a time: deletes that batch by id, commits, and
forgets the objects before the next batch (bounded memory, however large the table)."""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * MON-SUN",
    "purge_uploads": "0 2 * * 0",
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}


def batches_of(session, query, size=500):
    while True:
        batch = session.scalars(query.limit(size)).all()
        if not batch:
            break
        yield batch


def wipe(session, model, condition):
    count = 0
    for batch in batches_of(session, select(model).where(condition)):
        session.execute(
            delete(model).where(model.id.in_([row.id for row in batch])),
            execution_options={"synchronize_session": False},
        )
        session.commit()
        session.expunge_all()
        count += len(batch)
    return count


def expire_sessions(session, now):
    return wipe(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    return wipe(session, Upload, Upload.deleted_at < now - timedelta(days=30))


def claim(session, redis, job, slot):
    if redis is not None:
        return redis.set(f"cron:{job}:{slot}", 1, nx=True, ex=3600) is not None
    run = JobRun(job=job, slot=slot)
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    session.commit()
    return True
