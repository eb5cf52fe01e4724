"""learner: Yusuf, catches the loser's IntegrityError as the brief says — and stops there.
mistake: on IntegrityError it returns False without session.rollback(). The session is
left in a failed transaction: the next thing that scheduler does with it (the next
slot's claim, or a job) raises PendingRollbackError.
expected: "two schedulers on one slot" fails with an exception from the losing
scheduler's next use of its session (or "none ran" for a later slot) — the diagnostic
should point at the missing rollback, not at the claim logic.
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
        return bool(redis.set(f"cron:{job}:{slot.isoformat()}", 1, nx=True, ex=3600))
    session.add(JobRun(job=job, slot=slot))
    try:
        session.commit()
    except IntegrityError:
        return False  # someone else has it
    return True
