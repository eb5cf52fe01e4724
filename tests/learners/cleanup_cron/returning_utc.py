"""learner: Nadia, wants the database to tell her exactly which rows went.
approach: DELETE ... WHERE id IN (SELECT id ... LIMIT 1000) RETURNING id, counting the ids
that come back (not rowcount), commit per round, stop when nothing comes back. The UTC
jobs are written as explicit ("…", "UTC") entries next to the Berlin one, so all three
read the same way. claim(): Redis SET NX with a timedelta expiry, otherwise the JobRun
row flushed inside try/except IntegrityError.
"""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": ("15 3 * * *", "UTC"),
    "purge_uploads": ("0 2 * * 0", "UTC"),
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}

CHUNK = 1000
CLAIM_TTL = timedelta(hours=2)


def _delete_returning(session, model, condition):
    victims = select(model.id).where(condition).limit(CHUNK)
    stmt = delete(model).where(model.id.in_(victims)).returning(model.id)
    total = 0
    while True:
        gone = session.execute(stmt).scalars().all()
        session.commit()
        if not gone:
            return total
        total += len(gone)


def expire_sessions(session, now):
    return _delete_returning(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    return _delete_returning(session, Upload, Upload.deleted_at < now - timedelta(days=30))


def claim(session, redis, job, slot):
    if redis is not None:
        return bool(redis.set(f"claim:{job}:{slot:%Y-%m-%d %H:%M}", "1", nx=True, ex=CLAIM_TTL))
    try:
        session.add(JobRun(job=job, slot=slot))
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    session.commit()
    return True
