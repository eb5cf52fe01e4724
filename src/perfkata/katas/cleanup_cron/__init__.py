"""The cleanup-cron kata: right schedule, batched deletes in bounded memory, one
transaction per batch, and a claim so two schedulers run each slot once."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from perfkata.katas.base import Check, define_kata
from perfkata.katas.cleanup_cron import data
from perfkata.katas.cleanup_cron.models import Base
from perfkata.katas.cleanup_cron.scenarios import claims, crash, schedule
from perfkata.katas.cleanup_cron.workload import (
    both_jobs,
    cleanup_services,
    fingerprint,
    left_behind,
    run_jobs,
)
from perfkata.katas.effects import TimedEffect

# What each table's rule says about the rows exactly on its line, in the learner's words.
BOUNDARY_RULES = {
    "sessions": ("expires_at == now", "the rule deletes them (expires_at <= now)"),
    "uploads": ("deleted_at == now - 30 days", "the rule keeps them (deleted_at < now - 30 days)"),
}


def verify_cleanup(dataset: data.CleanupData, output: Any) -> str | None:
    expected, boundary = data.survivors(dataset), data.on_boundary(dataset)
    for table, ids in expected.items():
        if output.get(table) != fingerprint(ids):
            return table_difference(table, ids, boundary[table], output.get(table))
    deleted = [
        len(dataset.sessions) - len(expected["sessions"]),
        len(dataset.uploads) - len(expected["uploads"]),
    ]
    if output.get("returned") != deleted:
        return f"the jobs returned {output.get('returned')}; they deleted {deleted} rows"
    return None


def table_difference(table: str, ids: set[int], boundary: set[int], found: Any) -> str:
    """Name the boundary rows when exactly they make the difference (a `<` where the rule
    says `<=`, or the other way round); otherwise say how many rows are left."""
    if boundary and table in BOUNDARY_RULES:
        line, rule = BOUNDARY_RULES[table]
        flipped = ids - boundary if boundary <= ids else ids | boundary
        if found == fingerprint(flipped):
            done = "deleted" if boundary <= ids else "kept"
            return (
                f"{table}: the {len(boundary)} rows exactly at the cutoff ({line}) were "
                f"{done}; {rule}"
            )
    count = found[0] if isinstance(found, list) and found else found
    shown = f"{count:,}" if isinstance(count, int) else str(count)
    return f"{table}: {shown} rows left where {len(ids):,} should remain" + (
        " — the audit log must never be touched" if table == "audit" else ""
    )


HINTS = (
    "Schedule first: cron fields are minute, hour, day of month, month, day of week — and "
    "Sunday is 0 (or 7), Monday is 1. For the digest, 09:00 in Berlin is not one UTC hour "
    'all year: write ("0 9 * * *", "Europe/Berlin") and let croniter follow the clocks.',
    "Let the database find the rows: select only ids, at most 1,000 at a time "
    "(select(UserSession.id).where(…).limit(1000)), delete those with one "
    "DELETE … WHERE id IN (…), commit, and loop until a batch comes back empty.",
    "Mind the boundaries: sessions with expires_at <= now go; uploads go only when "
    "deleted_at < now - timedelta(days=30). A commit per batch means a crash keeps the "
    "batches already done, and a rerun simply carries on.",
    "claim(): with Redis, `return bool(redis.set(f'cron:{job}:{slot.isoformat()}', 1, "
    "nx=True, ex=3600))`; without, session.add(JobRun(job=job, slot=slot)); "
    "session.commit(), and on IntegrityError: session.rollback(); return False.",
)

KATA = define_kata(
    slug="cleanup-cron",
    title="The nightly cleanup that loads the whole table",
    difficulty="intermediate",
    summary="Fix cron schedules, delete in committed batches, claim each slot once.",
    files=("cleanup.py",),
    entry_points=("expire_sessions", "purge_uploads", "claim"),
    sizes=(500, 2000, 10000),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_cleanup,
    workload=run_jobs,
    timed=both_jobs,
    # The starter/reference ratio is the same at 5,000 as at 10,000 sessions (23× in
    # benchmarks/README.md), and every round of a slow solution costs half as long.
    timing_size=5000,
    environment=cleanup_services,
    scenarios={"schedule": schedule, "crash": crash, "claims": claims},
    mutates_data=True,
    # every timed call's rows left are checked too: a job that skips its work when no
    # listener counts its statements would otherwise be timed doing nothing
    extras={
        "timed_effects": {"timed": TimedEffect(left_behind, verify_cleanup)},
        # the batch a row-by-row DELETE's diagnostic asks for (grader.diagnostics)
        "batched_writes": "up to 1,000 ids per statement, and a commit after each batch",
    },
    rubric=(
        Check.of(
            "correct",
            "right rows deleted",
            "correct",
            "==1",
            20,
            "Delete exactly the rows the brief describes (the difference is named above).",
            gate=True,
        ),
        Check.of(
            "schedule",
            "wrong schedules",
            "schedule_errors",
            "==0",
            15,
            "Fix the cron expressions (minute hour day month weekday; Sunday is 0); "
            "a local time needs its zone.",
        ),
        Check.of(
            "statements",
            "statements as rows grow",
            "statements:growth",
            # Batched vs per-row: a batch of B ids costs about 1.4/B statements per row
            # (select + delete, for 0.7 deleted rows per session), so 100 ids give 0.014
            # and 1,000 give 0.0014, while one DELETE per row gives 0.7 or more.
            "slope<=0.1",
            10,
            "Statements must not grow with the rows: delete whole batches per statement "
            "(what ran is described above).",
        ),
        Check.of(
            "batch-size",
            "rows per DELETE",
            "max_rows_per_delete",
            "<=1000",
            10,
            "Cap each batch at 1,000 rows so no statement holds long locks.",
        ),
        Check.of(
            "crash",
            "deletions kept after a crash",
            "crash_kept_rows",
            ">0",
            10,
            "Commit after every batch, so finished batches survive a crash (what the kill "
            "found is described above).",
        ),
        Check.of(
            "memory",
            "peak memory as rows grow",
            "peak_bytes:tail",
            "slope<=20",
            10,
            "Hold one batch at a time: select at most 1,000 ids per query (or let "
            "DELETE … WHERE id IN (SELECT … LIMIT …) choose them), never the whole table "
            "or all of its ids.",
        ),
        Check.of(
            "once",
            "slots not run exactly once",
            "claim_errors",
            "==0",
            10,
            "Claim the slot in one atomic step that every scheduler sees: a unique JobRun "
            "row, or Redis SET NX (what went wrong is described above).",
        ),
        Check.of(
            "speedup",
            "speed-up vs starter",
            "speedup",
            # >= 0.2x the reference's speed-up in the same rounds (paired per round), and
            # a floor far below what the reference shows on any machine (grader.timing).
            # 0.2, not 0.4: the brief allows any batch up to 1,000 ids, and batches of 100
            # (a commit each) or ORM objects 500 at a time measured 0.33-0.35x the
            # reference; one DELETE per row is ~0.03x (0.9x the starter).
            ">=0.2*ref & >=2",
            15,
            "Batched deletes make the job fast; fix the statement checks first.",
        ),
    ),
)
