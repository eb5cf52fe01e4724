"""The cleanup kata's own pieces: the schedule check, the oracle's boundaries, exact
statement counts, the crash and the claim race, on SQLite/PostgreSQL and with Redis."""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from perfkata.grader.database import drop_schema, new_schema_name
from perfkata.grader.grade import solution_paths
from perfkata.grader.worker import (
    WorkerState,
    measure_size,
    op_load,
    op_sample,
    rebuild,
    run_once,
    run_scenarios,
)
from perfkata.katas.cleanup_cron import KATA, data
from perfkata.katas.cleanup_cron.scenarios import fire_times, required_times, schedule_problem
from perfkata.katas.cleanup_cron.workload import fingerprint

SEED = 6


def test_required_times_cover_five_weeks():
    assert len(required_times("expire_sessions")) == 35
    sundays = required_times("purge_uploads")
    assert len(sundays) == 5 and {t.strftime("%a %H:%M") for t in sundays} == {"Sun 02:00"}


def test_schedule_problems_name_the_first_wrong_fire_time():
    assert schedule_problem("purge_uploads", "0 2 * * 0", "every Sunday") is None
    assert schedule_problem("purge_uploads", "0 2 * * SUN", "every Sunday") is None
    problem = schedule_problem("purge_uploads", "0 2 * * 1", "every Sunday at 02:00 UTC")
    assert problem is not None and "fires Mon 2027-03-01 02:00 UTC as run 1" in problem
    assert "not a cron expression" in (schedule_problem("x", "61 * * * *", "") or "")
    assert "not a cron expression" in (schedule_problem("x", ("1 * * * *",), "") or "")
    assert fire_times("15 3 * * *")[0] == datetime(2027, 3, 1, 3, 15)


def test_a_local_schedule_keeps_its_wall_clock_across_the_dst_change():
    # Given the digest due at 09:00 Berlin time: 08:00 UTC in winter, 07:00 UTC in summer
    want = required_times("send_digest")
    assert want[0] == datetime(2027, 3, 1, 8, 0) and want[-1] == datetime(2027, 4, 4, 7, 0)
    # Then the zone-aware entry passes and the UTC one is caught the day the clocks change
    assert schedule_problem("send_digest", ("0 9 * * *", "Europe/Berlin"), "") is None
    problem = schedule_problem("send_digest", "0 8 * * *", "at 09:00 Berlin time")
    assert problem is not None
    assert "fires Sun 2027-03-28 08:00 UTC (10:00 in Europe/Berlin) as run 28" in problem
    assert "expected Sun 2027-03-28 07:00 UTC (09:00 in Europe/Berlin)" in problem
    unknown = schedule_problem("send_digest", ("0 9 * * *", "Europe/Atlantis"), "")
    assert unknown is not None and "unknown time zone 'Europe/Atlantis'" in unknown


def test_oracle_keeps_and_deletes_the_boundary_rows_as_the_brief_says():
    dataset = data.generate(2000, SEED)
    keep = data.survivors(dataset)
    at_now = [s["id"] for s in dataset.sessions if s["expires_at"] == data.NOW]
    thirty = [u["id"] for u in dataset.uploads if u["deleted_at"] == data.NOW - timedelta(days=30)]
    assert at_now and thirty  # the dataset really has rows on both lines
    assert not set(at_now) & keep["sessions"]  # expires_at == now: expired
    assert set(thirty) <= keep["uploads"]  # deleted exactly 30 days ago: kept


@pytest.fixture
def worker(db_url, tmp_path):
    schemas = []

    def loaded(variant: str, redis_url: str | None = None) -> WorkerState:
        schema = new_schema_name() if db_url else None
        schemas.extend([schema] if schema else [])
        state = WorkerState(scratch=tmp_path / variant)
        state.scratch.mkdir()
        path = solution_paths(KATA, tmp_path)[variant]
        op_load(
            state,
            {
                "kata": KATA.slug,
                "module": str(path),
                "db_url": db_url,
                "schema": schema,
                "redis_url": redis_url,
            },
        )
        return state

    yield loaded
    for schema in schemas:
        drop_schema(db_url, schema)


def run_jobs(state: WorkerState, size: int) -> tuple[dict, dict]:
    rebuild(state, size, SEED)
    with state.services() as services:
        output, env = run_once(state, services)
    return output, env.counters


def test_starter_deletes_right_rows_one_statement_per_row(worker):
    output, counters = run_jobs(worker("starter"), 2000)
    dataset = data.generate(2000, SEED)
    assert KATA.verify(dataset, output) is None
    assert counters["max_rows_per_delete"] == 1


def test_reference_deletes_right_rows_in_batches_of_1000(worker):
    output, counters = run_jobs(worker("reference"), 10000)
    assert KATA.verify(data.generate(10000, SEED), output) is None
    assert counters["max_rows_per_delete"] == 1000


def test_timing_samples_run_on_a_fresh_dataset_of_the_timing_size(worker):
    state = worker("reference")
    rebuild(state, KATA.largest, SEED)
    assert op_sample(state, {"op": "sample", "seed": SEED})["seconds"] > 0
    assert state.dataset == (KATA.timed_size, SEED) and KATA.timed_size < KATA.largest
    with state.engine.connect() as connection:  # type: ignore[union-attr]
        left = connection.exec_driver_sql("SELECT count(*) FROM user_sessions").scalar()
    # what the timed jobs leave of the timing-size dataset, not of the largest
    assert left == len(data.survivors(data.generate(KATA.timed_size, SEED))["sessions"])


def test_crash_keeps_committed_batches_and_a_rerun_finishes(worker):
    state = worker("reference")
    rebuild(state, 10000, SEED)
    counters, notes = run_scenarios(state)
    assert counters["crash_kept_rows"] >= 1000 and counters["crash_rerun_wrong"] == 0
    assert counters["schedule_errors"] == 0 and counters["claim_errors"] == 0
    assert notes == []


def test_starter_loses_everything_in_a_crash_and_runs_slots_twice(worker):
    state = worker("starter")
    rebuild(state, 2000, SEED)
    counters, notes = run_scenarios(state)
    # 8 slots raced twice, and a slot already taken is granted again on a reused session
    assert counters["crash_kept_rows"] == 0 and counters["claim_errors"] == 9
    assert counters["schedule_errors"] == 3
    assert any("ran twice" in n["message"] for n in notes)


def test_reference_claims_each_slot_once_on_redis(worker, real_redis_url):
    state = worker("reference", real_redis_url)
    rebuild(state, 500, SEED)
    counters, _ = run_scenarios(state)
    assert counters["claim_errors"] == 0


LEARNERS = Path(__file__).parents[1] / "learners" / "cleanup_cron"


@pytest.mark.parametrize(
    "entry",
    [
        ("expire_sessions", "15 3 * * 0-6"),
        ("expire_sessions", "15 03 * * *"),
        ("expire_sessions", "15 3 */1 * *"),
        ("expire_sessions", "15 3 * * MON-SUN"),
        ("purge_uploads", "0 2 * * 7"),
        ("purge_uploads", "00 02 * * sun"),
        ("purge_uploads", ("0 2 * * 0", "Etc/UTC")),
        ("send_digest", ["0 9 * * *", "Europe/Berlin"]),
        ("send_digest", ("0 9 * * *", ZoneInfo("Europe/Berlin"))),
        ("send_digest", "CRON_TZ=Europe/Berlin 0 9 * * *"),
    ],
)
def test_every_spelling_of_the_right_schedule_passes(entry):
    # Given a cron entry written another way than the reference's (ranges, names, 7 for
    # Sunday, a ZoneInfo or cronie's CRON_TZ= prefix for the zone)
    job, spelled = entry
    # Then it is judged by the times it fires, which are the required ones
    assert schedule_problem(job, spelled, "as the brief says") is None


def test_a_strict_boundary_names_the_rows_at_the_cutoff():
    # Given the sessions left by `expires_at < now` (the rule is <=), and the uploads left
    # by `deleted_at <= now - 30 days` (the rule is <)
    dataset = data.generate(500, SEED)
    keep, boundary = data.survivors(dataset), data.on_boundary(dataset)
    sessions_kept = {
        **remaining_as(keep),
        "sessions": fingerprint(keep["sessions"] | boundary["sessions"]),
    }
    uploads_gone = {
        **remaining_as(keep),
        "uploads": fingerprint(keep["uploads"] - boundary["uploads"]),
    }
    # Then the difference is said as the boundary rows, not as a count of rows left
    said = KATA.verify(dataset, sessions_kept) or ""
    assert (
        f"the {len(boundary['sessions'])} rows exactly at the cutoff (expires_at == now) were kept"
        in said
    )
    assert "the rule deletes them (expires_at <= now)" in said
    said = KATA.verify(dataset, uploads_gone) or ""
    assert "(deleted_at == now - 30 days) were deleted; the rule keeps them" in said


def remaining_as(keep: dict) -> dict:
    return {table: fingerprint(ids) for table, ids in keep.items()}


@pytest.mark.parametrize("batch", [1000, 500, 250, 100])
def test_peak_memory_of_a_select_ids_loop_stays_flat_whatever_its_batch(batch, tmp_path):
    # Given the brief's select-ids / DELETE … IN / commit loop with this batch size (it
    # never holds more than `batch` ids); the memory pass used to count the reference
    # cycles of every statement not yet collected: +7/+13/+18 B per row for 1000/500/250
    source = (LEARNERS / "select_ids_batch_500.py").read_text()
    path = tmp_path / f"batch_{batch}.py"
    path.write_text(source.replace("BATCH = 500", f"BATCH = {batch}"))
    state = WorkerState(scratch=tmp_path)
    op_load(state, {"kata": KATA.slug, "module": str(path)})
    # When its peak is traced at the two sizes the rubric fits
    peaks = [
        measure_size(state, size, SEED, SEED)["counters"]["peak_bytes"] for size in (2000, 10000)
    ]
    state.engine.dispose()  # type: ignore[union-attr]
    # Then it grows by a few bytes per row at most (the upload batch filling up to 1,000)
    assert (peaks[1] - peaks[0]) / 8000 < 8
