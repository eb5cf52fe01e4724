"""The image kata's own pieces — the dataset and its faults, the fakes' counts (uploads
per key, uploads in flight, emails and their order), the run's rate-limiter keys — and
the whole story run in this process on both brokers, deterministic in what it counts:
the reference settles every album on a StubBroker and on RedisBroker with a worker
SIGKILLed mid-chain; the starter's album waits behind its whole backlog."""

import threading
from pathlib import Path

import pytest
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import StubBackend
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from perfkata.bench.scaling import capped_fit, fit
from perfkata.bench.thresholds import Outcome
from perfkata.grader.loading import load_module
from perfkata.katas.base import Backends, RunEnv
from perfkata.katas.image_pipeline import KATA, data
from perfkata.katas.image_pipeline.app import (
    Plan,
    StorageUnavailable,
    mail,
    new_run,
    rate_limits,
    services,
    storage,
)
from perfkata.katas.image_pipeline.data import SIZES, image_key
from perfkata.katas.image_pipeline.scenarios import bulk_drained, redelivered, run_story
from perfkata.katas.report_worker.jobs import placeholder_broker
from perfkata.katas.report_worker.store import MemoryTally

REPO = Path(__file__).parents[2]
LEARNERS = REPO / "tests" / "learners" / "image_pipeline"
REFERENCE = REPO / "solutions" / "image-pipeline" / "pipeline.py"
STARTER = REPO / "starter" / "image-pipeline" / "pipeline.py"


def test_the_faults_are_seeded_and_never_where_they_would_prove_nothing():
    first, again, other = data.generate(250, 4), data.generate(250, 4), data.generate(250, 5)
    assert first == again and first.flaky != other.flaky
    assert len(first.bulk) == 250 and len(first.albums) == 3
    assert data.album_of(first.doomed) != 1  # album 1 is the redelivery scenario's
    assert first.doomed not in first.flaky
    # a retried loop over the sizes re-stores the first size only if a later one failed
    assert set(first.flaky.values()) <= set(SIZES[1:]) and len(first.flaky) == 5
    # the albums are the same at every backlog size: timing and scenarios rely on it
    assert data.generate(2000, 4).images[:18] == first.images[:18]
    # the photo the CDN is busy for also fails one upload: a retry budget its refusals
    # used up is then short for its StorageUnavailable
    assert first.contended in first.flaky and data.CONTENDED_REFUSALS > 5


def test_the_cdn_is_busy_only_for_the_contended_photos_first_slot_requests(fakes):
    # Given a run whose plan makes the CDN busy for photo 101
    services.use(new_run(MemoryTally(), Plan(contended=101), None, limits=StubBackend()))
    limiter = ConcurrentRateLimiter(rate_limits, "cdn", limit=2)
    try:
        # When a message about another photo asks for a slot, Then it gets one
        services.local.subject = 103
        with limiter.acquire(raise_on_failure=False) as other:
            assert other
        # When messages about photo 101 ask, Then its first requests are refused, then not
        services.local.subject = 101
        answers = []
        for _ in range(data.CONTENDED_REFUSALS + 2):
            with limiter.acquire(raise_on_failure=False) as ok:
                answers.append(ok)
        assert answers == [False] * data.CONTENDED_REFUSALS + [True, True]
    finally:
        services.local.subject = None
        services.use(fakes)


@pytest.fixture
def fakes():
    """The fakes pointed at a fresh in-memory run: photo 101 fails its first medium store,
    photo 102 never stores."""
    plan = Plan({101: "medium"}, 102, frozenset({101, 102, 103}), frozenset({400}), 0.0)
    run = new_run(MemoryTally(), plan, None, limits=StubBackend(), prefix="t")
    before = services.run
    services.use(run)
    yield run
    services.use(before)


def test_storage_fails_as_planned_and_counts_every_upload(fakes):
    storage.put(image_key(101, "thumb"), b"t")
    with pytest.raises(StorageUnavailable):
        storage.put(image_key(101, "medium"), b"m")  # the first attempt only
    storage.put(image_key(101, "medium"), b"m")
    for _ in range(3):
        with pytest.raises(StorageUnavailable):
            storage.put(image_key(102, "thumb"), b"x")
    storage.put(image_key(101, "thumb"), b"t")  # a duplicate is stored, and counted
    assert fakes.tally.count(f"put:{image_key(101, 'thumb')}") == 2
    assert storage.exists(image_key(101, "medium")) and not storage.exists(image_key(102, "thumb"))
    assert fakes.tally.count("uploads_in_flight") == 0


def test_the_peak_of_uploads_in_flight_is_what_overlapped_inside_put(fakes, monkeypatch):
    # Given three photo uploads held inside the CDN's latency at the same moment
    inside = threading.Barrier(3, timeout=10)
    monkeypatch.setattr("perfkata.katas.image_pipeline.app.time.sleep", lambda s: inside.wait())
    sizes = [threading.Thread(target=storage.put, args=(image_key(103, s), b"x")) for s in SIZES]
    for thread in sizes:
        thread.start()
    for thread in sizes:
        thread.join()
    # Then the CDN saw three at once, and none is left in flight
    assert fakes.tally.peak("peak_uploads") == 3
    assert fakes.tally.count("uploads_in_flight") == 0
    # And one upload after another never raises the peak of a fresh run
    services.use(new_run(MemoryTally(), fakes.plan, None, prefix="v"))
    for size in SIZES:
        storage.put(image_key(400, size), b"y")
    assert services.run.tally.peak("peak_uploads") == 1
    services.use(fakes)


def test_an_email_keeps_its_place_in_the_order_and_duplicates_are_counted(fakes):
    storage.put(image_key(103, "thumb"), b"a")
    mail.album_ready(1, failed=[102])
    storage.put(image_key(103, "large"), b"c")  # after the email
    mail.album_ready(1, failed=[])
    tally = fakes.tally
    assert tally.count("email:1") == 2 and tally.get("email-failed:1") == b"[102]"
    assert int(tally.get("email-seq:1") or 0) < tally.peak("last-put:103")


def test_rate_limiter_keys_belong_to_their_run(fakes):
    # Given a limiter of one slot taken in this run
    limiter = ConcurrentRateLimiter(rate_limits, "cdn", limit=1)
    with limiter.acquire(raise_on_failure=False) as mine:
        assert mine
        with limiter.acquire(raise_on_failure=False) as second:
            assert not second  # the same run: the slot is taken
        # When another run starts, Then its slot is free: keys are the run's own
        services.use(new_run(MemoryTally(), Plan(), None, limits=fakes.limits, prefix="u"))
        with limiter.acquire(raise_on_failure=False) as other:
            assert other
        services.use(fakes)


def test_the_oracle_wants_every_photo_once_per_size_and_the_doomed_one_never():
    dataset = data.generate(250, 7)
    photos = [i for a in dataset.albums for i in dataset.album_images(a["id"])]
    files = data.expected_files(dataset, [p for p in photos if p != dataset.doomed])
    puts = dict.fromkeys(files, 1)
    assert KATA.verify(dataset, {"files": files, "puts": puts}) is None
    key = next(iter(files))
    assert "stored 2 times" in (KATA.verify(dataset, {"files": files, "puts": {key: 2}}) or "")
    assert "wrong content" in (
        KATA.verify(dataset, {"files": {**files, key: "0" * 64}, "puts": puts}) or ""
    )
    missing = {k: v for k, v in files.items() if k != key}
    assert "never stored" in (KATA.verify(dataset, {"files": missing, "puts": puts}) or "")


def run_in_process(path, workload, size, redis_url=None, tmp_path=None, seed=11):
    """One workload of the kata on a fresh SQLite file, as the grader's worker runs it."""
    placeholder_broker()
    tmp_path.mkdir(parents=True, exist_ok=True)
    module = load_module(path, KATA.entry_points)
    engine = create_engine(f"sqlite:///{tmp_path}/images.sqlite")
    KATA.models.metadata.create_all(engine)
    dataset = KATA.generate(size, seed)
    with Session(engine) as session:
        KATA.load(session, dataset)
    backends = Backends(None, redis_url, tmp_path)
    with KATA.environment(engine, backends) as env_services, Session(engine) as session:
        env = RunEnv(engine, session, env_services, size, seed)
        output = workload(module, env)
    engine.dispose()
    return env, KATA.verify(dataset, output) if output is not None else None


def test_the_reference_settles_every_album_on_the_stub_broker(tmp_path):
    env, wrong = run_in_process(REFERENCE, run_story, 250, tmp_path=tmp_path)
    counters = env.counters
    assert wrong is None, env.notes
    assert counters["email_errors"] == 0 and counters["request_work"] == 0, env.notes
    assert counters["peak_uploads"] == 2 and counters["message_errors"] == 0
    assert counters["retry_policy_errors"] == 0 and counters["workers_killed"] == 0
    assert counters["bulk_before_album"] < 250  # the albums did not wait for the backlog


def test_the_starter_is_right_but_works_inside_the_request_behind_its_backlog(tmp_path):
    # Given the starter: every photo stored (retried inline), every album emailed once
    env, wrong = run_in_process(STARTER, run_story, 250, tmp_path=tmp_path)
    counters, said = env.counters, [m for _, m in env.notes]
    assert wrong is None and counters["email_errors"] == 0, said
    # Then its album waited for the whole backlog, and the requests did all the work
    assert counters["bulk_before_album"] == 250 and counters["request_work"] > 250 * 7
    assert any(m.startswith("upload_album did the work inside the request") for m in said)
    assert counters["message_errors"] == 1 and counters["retry_policy_errors"] == 1


def test_one_queue_makes_the_album_wait_for_every_bulk_image(tmp_path):
    env, wrong = run_in_process(LEARNERS / "wrong_one_queue.py", run_story, 120, tmp_path=tmp_path)
    assert wrong is None and env.counters["bulk_before_album"] == 120, env.notes


def test_a_redelivered_callback_emails_once_only_when_it_checks(tmp_path):
    good, _ = run_in_process(REFERENCE, redelivered, 10, tmp_path=tmp_path / "a")
    bad, _ = run_in_process(
        LEARNERS / "wrong_callback_not_idempotent.py", redelivered, 10, tmp_path=tmp_path / "b"
    )
    assert good.counters["callback_errors"] == 0
    assert bad.counters["callback_errors"] == 1
    assert any("delivered a second time" in m for _, m in bad.notes), bad.notes


def test_the_drained_reimport_stores_each_size_once(tmp_path):
    env, _ = run_in_process(REFERENCE, bulk_drained, 30, tmp_path=tmp_path)
    assert env.counters["bulk_errors"] == 0


@pytest.mark.slow  # two worker processes and a heartbeat timeout: ~5 s idle each
@pytest.mark.parametrize("name", ["reference", "wrong_per_size_no_exists_redis.py"])
def test_on_redis_a_worker_killed_mid_chain_loses_nothing(name, tmp_path, real_redis_url):
    # Given RedisBroker: two worker processes, one SIGKILLed once the message that stored
    # a photo was processed, before it was acked or its chain's next stage sent
    path = REFERENCE if name == "reference" else LEARNERS / name
    env, wrong = run_in_process(path, run_story, 250, redis_url=real_redis_url, tmp_path=tmp_path)
    counters = env.counters
    # Then the victim died, no album lost its email, the CDN's limit held
    assert counters["workers_killed"] == 1
    assert counters["email_errors"] == 0 and counters["peak_uploads"] <= 2, env.notes
    # And the reference stored every photo once; a store that never asks storage.exists
    # (right on one machine: its retries only follow failed uploads) stored the held
    # message's photo again when it was delivered to the other worker
    if name == "reference":
        assert wrong is None, env.notes
    else:
        assert "was stored 2 times" in (wrong or ""), wrong


@pytest.mark.parametrize("seed", [11, 12])  # and seed 21 in tests/grader/test_image_learners.py
def test_refusals_that_use_up_retry_whens_budget_fail_every_seed(seed, tmp_path):
    # Given retry_when(retries, exc) that always retries a refusal and retries
    # StorageUnavailable while retries < 5 — dramatiq's `retries` counts the refusals
    name = "wrong_retry_when_counts_refusals.py"
    env, wrong = run_in_process(LEARNERS / name, run_story, 40, tmp_path=tmp_path, seed=seed)
    # Then the photo the CDN was busy for is given up, on every seed (it passed 2 grades
    # in 6 when contention was left to the threads), and the diagnostic says why
    assert wrong is not None and "given up (dead-lettered)" in wrong, (wrong, env.notes)
    assert "refusals used up the retry budget" in wrong
    assert "acquire(raise_on_failure=False)" in wrong
    assert env.counters["email_errors"] >= 1


@pytest.mark.parametrize(
    "name", ["correct_handrolled_chain_retry_when.py", "correct_retry_on_refusal_own_count.py"]
)
def test_limiters_that_keep_refusals_out_of_the_budget_store_the_contended_photo(name, tmp_path):
    env, wrong = run_in_process(LEARNERS / name, run_story, 40, tmp_path=tmp_path)
    counters = env.counters
    assert wrong is None, (wrong, env.notes)
    assert counters["email_errors"] == 0 and counters["retry_policy_errors"] == 0, env.notes
    assert counters["peak_uploads"] <= 2 and counters["message_errors"] == 0, env.notes


def test_a_plain_acquire_with_five_retries_loses_the_contended_photo(tmp_path):
    path = LEARNERS / "wrong_plain_acquire_max5.py"
    env, wrong = run_in_process(path, run_story, 40, tmp_path=tmp_path)
    assert wrong is not None and "refusals used up the retry budget" in wrong, (wrong, env.notes)


def test_a_group_of_first_stages_is_told_to_hold_the_whole_chain(tmp_path):
    path = LEARNERS / "wrong_group_of_first_stages.py"
    env, _ = run_in_process(path, run_story, 40, tmp_path=tmp_path)
    said = [m for _, m in env.notes]
    assert env.counters["email_errors"] >= 1, said
    assert any("put each image's whole chain in the album's group" in m for m in said), said


BACKLOGS = [250, 1000, 2000]
KATA_BACKLOG = next(c for c in KATA.rubric if c.id == "backlog")


def backlog_slope(counts: list[int]) -> float:
    return capped_fit(BACKLOGS, [float(c) for c in counts]).slope


def test_one_queue_grows_one_per_backlog_image_however_the_cap_is_read():
    # every backlog image begun before the albums, at every size: it grows with the size
    assert backlog_slope([250, 1000, 2000]) == pytest.approx(1.0)
    assert KATA_BACKLOG.threshold.judge(capped_fit(BACKLOGS, [250, 1000, 2000])) is Outcome.FAIL


def test_a_backlog_that_ran_out_draws_no_slope_when_two_larger_ones_did_not():
    # two queues, albums ~1 s late (20 retries): the whole 250 begun, ~900 of the others.
    # Fitted whole that is 0.35 per image; the 250 says only that the backlog ran out
    assert fit(BACKLOGS, [250.0, 902.0, 897.0]).slope > 0.25
    assert abs(backlog_slope([250, 902, 897])) < 0.01
    assert KATA_BACKLOG.threshold.judge(capped_fit(BACKLOGS, [250, 902, 897])) is Outcome.PASS


def test_with_one_size_below_its_cap_the_nearest_capped_one_is_kept_as_a_lower_bound():
    # 1,000 all begun, 1,050 of 2,000: flat at ~1,050 fits the two largest at 0.05
    assert backlog_slope([250, 1000, 1050]) == pytest.approx(0.05)
    # 1,600 of 2,000 after 1,000 of 1,000: at least 0.6 per image, however flat it may be
    assert backlog_slope([250, 1000, 1600]) == pytest.approx(0.6)


def test_a_count_that_reaches_its_cap_again_past_a_smaller_one_is_fitted_whole():
    # under the cap at 250, at it from 1,000 on: it grows with the backlog
    assert backlog_slope([200, 1000, 2000]) == pytest.approx(fit(BACKLOGS, [200, 1000, 2000]).slope)
