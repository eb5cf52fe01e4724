"""learner: Aisha, cautious: small batches so no lock is held for long.
approach: SQLAlchemy 2.0 ORM style: session.scalars(select(id)...limit(100)), then
session.execute(delete(Model).where(id.in_(ids)), execution_options synchronize_session
False), commit per batch of 100. claim(): Redis SET NX EX / JobRun row + IntegrityError,
with the session flushed inside try so the loser's error is caught wherever it surfaces.
"""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * *",
    "purge_uploads": "0 2 * * SUN",
    "send_digest": ("0 9 * * *", "Europe/Berlin"),
}

BATCH_SIZE = 100
_NO_SYNC = {"synchronize_session": False}


def _remove_where(session, entity, clause):
    removed = 0
    while ids := list(session.scalars(select(entity.id).where(clause).limit(BATCH_SIZE))):
        session.execute(delete(entity).where(entity.id.in_(ids)), execution_options=_NO_SYNC)
        session.commit()
        removed += len(ids)
    return removed


def expire_sessions(session, now):
    return _remove_where(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    older_than = now - timedelta(days=30)
    return _remove_where(session, Upload, Upload.deleted_at < older_than)


def claim(session, redis, job, slot):
    if redis is not None:
        return redis.set(f"claim:{job}@{slot.isoformat()}", "1", nx=True, ex=900) is not None
    try:
        session.add(JobRun(job=job, slot=slot))
        session.flush()
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False
