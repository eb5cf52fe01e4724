"""A small class walks the table by id (keyset pagination), 200 ids a step; the claim is
an INSERT … ON CONFLICT DO NOTHING RETURNING id in whichever dialect the session
speaks."""

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from perfkata.katas.cleanup_cron.models import JobRun, Upload, UserSession

SCHEDULES = {
    "expire_sessions": "15 03 * * *",
    "purge_uploads": "00 02 * * SUN",
    "send_digest": ("0 9 * * *", ZoneInfo("Europe/Berlin")),
}


@dataclass
class Purger:
    session: object
    model: type
    condition: object
    step: int = 200

    def ids_after(self, last_id):
        query = (
            select(self.model.id)
            .where(self.condition, self.model.id > last_id)
            .order_by(self.model.id)
            .limit(self.step)
        )
        return list(self.session.scalars(query))

    def run(self):
        last_id, count = 0, 0
        while ids := self.ids_after(last_id):
            self.session.execute(delete(self.model).where(self.model.id.in_(ids)))
            self.session.commit()
            count += len(ids)
            last_id = ids[-1]
        return count


def expire_sessions(session, now):
    return Purger(session, UserSession, UserSession.expires_at <= now).run()


def purge_uploads(session, now):
    month_ago = now - timedelta(days=30)
    return Purger(session, Upload, Upload.deleted_at < month_ago).run()


def claim(session, redis, job, slot):
    if redis is not None:
        return bool(redis.set(f"jobs:{job}:{slot:%Y-%m-%dT%H:%M}", "1", nx=True, ex=7200))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(JobRun)
        .values(job=job, slot=slot)
        .on_conflict_do_nothing()
        .returning(JobRun.id)  # a row back means this insert won (rowcount is -1 on psycopg)
    )
    won = session.execute(statement).scalar() is not None
    session.commit()
    return won
