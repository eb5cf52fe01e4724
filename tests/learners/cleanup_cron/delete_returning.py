"""DELETE … WHERE id IN (SELECT … LIMIT 250) RETURNING id, counted from what came back;
the claim row is inserted inside a savepoint."""

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * 0-6",  # every weekday number, Sunday to Saturday
    "purge_uploads": "0 2 * * 7",  # 7 is Sunday too
    "send_digest": ["0 9 * * *", "Europe/Berlin"],
}

CHUNK = 250


def delete_chunks(session, model, where):
    removed = 0
    while True:
        chosen = select(model.id).where(where).limit(CHUNK)
        gone = session.execute(
            delete(model).where(model.id.in_(chosen.scalar_subquery())).returning(model.id)
        ).all()
        session.commit()
        removed += len(gone)
        if len(gone) < CHUNK:
            return removed


def expire_sessions(session, now):
    return delete_chunks(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    line = now - dt.timedelta(days=30)
    return delete_chunks(session, Upload, Upload.deleted_at < line)


def claim(session, redis, job, slot):
    if redis:
        key = f"claim/{job}/{slot:%Y%m%dT%H%M}"
        return redis.set(key, "taken", nx=True, ex=6 * 3600) is True
    try:
        with session.begin_nested():
            session.add(JobRun(job=job, slot=slot))
    except IntegrityError:
        return False
    session.commit()
    return True
