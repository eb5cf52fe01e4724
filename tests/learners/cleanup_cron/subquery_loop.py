"""learner: Sam, likes one statement per round trip and short code.
approach: DELETE FROM t WHERE id IN (SELECT id FROM t WHERE ... LIMIT 1000) with Core,
looping until rowcount == 0, a commit after every round. claim(): Redis SET NX EX, or
INSERT ... ON CONFLICT DO NOTHING RETURNING id (the dialect's own insert): a row back
means we won (rowcount is -1 on psycopg 3 here, so RETURNING it is). Cron spelled "*/1" for every day and 7 for Sunday.
"""

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 */1 * *",
    "purge_uploads": "0 2 * * 7",
    "send_digest": ("0 9 */1 * *", "Europe/Berlin"),
}

LIMIT = 1000


def _chunked_delete(session, model, where):
    gone = 0
    doomed = select(model.id).where(where).limit(LIMIT)
    while (n := session.execute(delete(model).where(model.id.in_(doomed))).rowcount) > 0:
        session.commit()
        gone += n
    session.commit()
    return gone


def expire_sessions(session, now):
    return _chunked_delete(session, UserSession, UserSession.expires_at <= now)


def purge_uploads(session, now):
    return _chunked_delete(session, Upload, Upload.deleted_at < now - timedelta(days=30))


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def claim(session, redis, job, slot):
    if redis:
        return bool(redis.set(f"slot/{job}/{slot:%Y%m%d%H%M}", "1", nx=True, ex=6 * 3600))
    insert = _INSERTS[session.get_bind().dialect.name]
    stmt = insert(JobRun).values(job=job, slot=slot).on_conflict_do_nothing()
    won = session.execute(stmt.returning(JobRun.id)).first() is not None
    session.commit()
    return won
