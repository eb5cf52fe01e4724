"""Plain SQL through text(): a generator hands out chunks of 100 expired ids, each chunk
goes in one DELETE and its own commit. Redis claims with SETNX then EXPIRE."""

from datetime import timedelta

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.exc import IntegrityError

SCHEDULES = dict(
    expire_sessions="15 3 */1 * *",
    purge_uploads="0 2 * * sun",
    send_digest="CRON_TZ=Europe/Berlin 0 9 * * *",
)

PICK = {
    "user_sessions": "SELECT id FROM user_sessions WHERE expires_at <= :line LIMIT 100",
    "uploads": "SELECT id FROM uploads WHERE deleted_at < :line LIMIT 100",
}


def chunks(session, table, line):
    # typed, so SQLite compares the stored text form of the datetime, not Python's
    pick = text(PICK[table]).bindparams(bindparam("line", type_=DateTime()))
    while True:
        ids = [row[0] for row in session.execute(pick, {"line": line})]
        if not ids:
            return
        yield ids


def remove(session, table, line):
    drop = text(f"DELETE FROM {table} WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    total = 0
    for ids in chunks(session, table, line):
        session.execute(drop, {"ids": ids})
        session.commit()
        total += len(ids)
    return total


def expire_sessions(session, now):
    return remove(session, "user_sessions", now)


def purge_uploads(session, now):
    return remove(session, "uploads", now - timedelta(days=30))


def claim(session, redis, job, slot):
    key = f"{job}@{slot.isoformat()}"
    if redis is not None:
        if not redis.setnx(key, 1):
            return False
        redis.expire(key, 24 * 3600)
        return True
    try:
        session.execute(
            text("INSERT INTO job_runs (job, slot) VALUES (:job, :slot)"),
            {"job": job, "slot": slot},
        )
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False
