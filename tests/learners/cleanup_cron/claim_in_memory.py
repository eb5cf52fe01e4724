"""Right schedule and batches; the claim is a set in memory behind a lock — it holds
between threads of one process, but each scheduler process has its own set."""

import threading
from datetime import timedelta

from sqlalchemy import delete, select

from perfkata.katas.cleanup_cron.models import Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 3 * * *",  # minute 15, hour 3, every day
    "purge_uploads": "0 2 * * 0",  # 02:00 on Sundays (0 = Sunday)
    "send_digest": ("0 9 * * *", "Europe/Berlin"),  # 09:00 on Berlin's wall clock
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


_claimed = set()
_lock = threading.Lock()


def claim(session, redis, job, slot):
    with _lock:
        if (job, slot) in _claimed:
            return False
        _claimed.add((job, slot))
        return True
