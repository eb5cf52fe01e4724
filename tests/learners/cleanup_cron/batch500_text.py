"""learner: Dmitri, a DBA who trusts SQL he can read more than any ORM.
approach: raw SQL through text(): SELECT id ... ORDER BY id LIMIT 500, then
DELETE ... WHERE id IN :ids with an expanding bind parameter, commit per batch. Datetime
parameters are typed (bindparam(type_=DateTime)) so SQLite compares them in the same
text format the column is stored in. claim(): Redis SET NX EX, otherwise a raw INSERT
into job_runs whose unique (job, slot) makes the loser fail with IntegrityError.
Cron spelled with leading zeros and day names.
"""

from datetime import timedelta

from sqlalchemy import DateTime, String, bindparam, text
from sqlalchemy.exc import IntegrityError

SCHEDULES = {
    "expire_sessions": "15 03 * * *",
    "purge_uploads": "00 02 * * SUN",
    "send_digest": ("00 09 * * *", "Europe/Berlin"),
}

BATCH_SIZE = 500

_SELECT_SESSIONS = text(
    "SELECT id FROM user_sessions WHERE expires_at <= :cutoff ORDER BY id LIMIT :n"
).bindparams(bindparam("cutoff", type_=DateTime()))
_DELETE_SESSIONS = text("DELETE FROM user_sessions WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_SELECT_UPLOADS = text(
    "SELECT id FROM uploads WHERE deleted_at < :cutoff ORDER BY id LIMIT :n"
).bindparams(bindparam("cutoff", type_=DateTime()))
_DELETE_UPLOADS = text("DELETE FROM uploads WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_INSERT_RUN = text("INSERT INTO job_runs (job, slot) VALUES (:job, :slot)").bindparams(
    bindparam("job", type_=String()), bindparam("slot", type_=DateTime())
)


def _purge(session, select_sql, delete_sql, cutoff):
    removed = 0
    while True:
        ids = session.execute(select_sql, {"cutoff": cutoff, "n": BATCH_SIZE}).scalars().all()
        if not ids:
            break
        session.execute(delete_sql, {"ids": list(ids)})
        session.commit()
        removed += len(ids)
    return removed


def expire_sessions(session, now):
    return _purge(session, _SELECT_SESSIONS, _DELETE_SESSIONS, now)


def purge_uploads(session, now):
    return _purge(session, _SELECT_UPLOADS, _DELETE_UPLOADS, now - timedelta(days=30))


def claim(session, redis, job, slot):
    if redis is not None:
        key = "cleanup-claim:" + job + ":" + slot.strftime("%Y-%m-%dT%H:%M")
        return redis.set(key, "taken", nx=True, ex=24 * 3600) is True
    try:
        session.execute(_INSERT_RUN, {"job": job, "slot": slot})
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False
