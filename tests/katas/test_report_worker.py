"""The report kata's own pieces: the fault plan, the storage, the shared tally on both
backends, the recorder's view of messages, retries that run at once while the delay
they asked for is kept, and the oracle."""

import hashlib
import math
from types import SimpleNamespace

import dramatiq
import pytest
import redis

from perfkata.katas.report_worker import KATA, data
from perfkata.katas.report_worker.app import FaultPlan, NetworkError, Storage
from perfkata.katas.report_worker.jobs import callback_kind, is_callback, new_broker, report_id_of
from perfkata.katas.report_worker.policy import declared_policy
from perfkata.katas.report_worker.store import MemoryTally, RedisTally
from perfkata.katas.report_worker.workload import join_all


def test_the_fault_plan_is_seeded_and_its_sets_do_not_overlap():
    first, again, other = data.generate(200, 4), data.generate(200, 4), data.generate(200, 5)
    assert first == again and first.flaky != other.flaky
    assert (len(first.flaky), len(first.deleted), len(first.doomed)) == (60, 10, 3)
    groups = [first.flaky, first.deleted, first.doomed, {first.ambiguous}]
    assert sum(map(len, groups)) == len(set().union(*groups))


@pytest.fixture(params=["memory", "redis"])
def tally(request, real_redis_url):
    if request.param == "memory":
        yield MemoryTally()
        return
    made = RedisTally(redis.Redis.from_url(real_redis_url), "perfkata-test-tally")
    made.clear()
    yield made
    made.clear()


def test_tallies_count_store_and_keep_the_peak(tally):
    assert tally.incr("a") == 1 and tally.incr("a", 2) == 3 and tally.count("a") == 3
    tally.put("file:x", b"pdf")
    assert tally.get("file:x") == b"pdf" and tally.get("file:y") is None
    for value in (5, 9, 2):
        tally.maximum("delay", value)
    assert tally.peak("delay") == 9 and tally.count("missing") == 0


def test_storage_fails_as_planned_and_counts_every_upload():
    plan = FaultPlan(flaky=frozenset({"f"}), doomed=frozenset({"d"}), ambiguous="a")
    tally = MemoryTally()
    storage = Storage(tally, plan, latency=0)
    with pytest.raises(NetworkError):
        storage.upload("f", b"1")  # the first attempt only
    storage.upload("f", b"1")
    for _ in range(3):
        with pytest.raises(NetworkError):
            storage.upload("d", b"2")
    with pytest.raises(NetworkError, match="connection reset"):
        storage.upload("a", b"3")
    assert storage.exists("a")  # it was stored although the caller saw an error
    assert not storage.exists("d")
    assert [tally.count(f"upload:{k}") for k in "fda"] == [1, 0, 1]


def message(actor, args=(), kwargs=None):
    return SimpleNamespace(actor_name=actor, args=args, kwargs=kwargs or {})


def test_the_report_of_a_message_is_found_however_it_was_sent():
    assert report_id_of(message("gen", (7,))) == "7"
    assert report_id_of(message("gen", (), {"report_id": 8})) == "8"
    assert report_id_of(message("gen", ({"id": 9, "params": "…"},))) == "9"
    failed = {"actor_name": "gen", "message_id": "m1", "options": {}, "args": [10], "kwargs": {}}
    exhausted = message("any_name", (failed, {"retries": 3, "max_retries": 3}))
    assert is_callback(exhausted) and callback_kind(exhausted) == "on_retry_exhausted"
    assert report_id_of(exhausted) == "10"
    on_failure = message(
        "other", ({**failed, "args": [], "kwargs": {"report_id": 11}}, {"type": "E"})
    )
    assert report_id_of(on_failure) == "11" and callback_kind(on_failure) == "on_failure"
    assert not is_callback(message("gen", ({"id": 9},)))
    assert report_id_of(message("gen", (object(),))) == "?"


def test_a_retry_runs_at_once_but_the_delay_it_asked_for_is_recorded():
    # Given an actor whose policy waits at least 5 s before its one retry
    tally = MemoryTally()
    broker = new_broker(tally, "reports.py", None)
    dramatiq.set_broker(broker)
    calls = []

    @dramatiq.actor(max_retries=1, min_backoff=5000, max_backoff=10000)
    def flaky(n):
        calls.append(n)
        if len(calls) == 1:
            raise NetworkError("first try fails")

    # When it runs on a worker, with the join bounded well below the requested delay
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        flaky.send(3)
        finished = join_all(broker, timeout=3.0)
    finally:
        worker.stop()

    # Then the retry ran, and the delay the policy asked for (5–10 s with jitter) is kept
    assert finished and calls == [3, 3]
    assert 2500 <= tally.peak("retry_delay_ms") <= 10000 and tally.count("retries") == 1
    assert tally.count("attempt:3") == 2 and tally.count("sent") == 1


def test_the_oracle_checks_content_and_that_done_means_stored():
    dataset = data.generate(20, 1)
    expected = data.expected_files(dataset)
    key = data.file_key(1)
    assert KATA.verify(dataset, {"files": {key: expected[key]}, "done": [1]}) is None
    wrong = {"files": {key: hashlib.sha256(b"nope").hexdigest()}, "done": [1]}
    assert "wrong content" in (KATA.verify(dataset, wrong) or "")
    assert "never uploaded" in (
        KATA.verify(dataset, {"files": {key: expected[key]}, "done": [2]}) or ""
    )
    assert "no report's file was stored" in (KATA.verify(dataset, {"files": {}, "done": []}) or "")


@pytest.fixture
def policy_broker():
    broker = new_broker(MemoryTally(), "reports.py", None)
    dramatiq.set_broker(broker)
    yield broker
    broker.close()


def declared(broker, **options):
    """The policy of a throwaway actor declared with these options."""

    @dramatiq.actor(actor_name=f"job_{len(broker.actors)}", **options)
    def job(report_id):
        pass

    return declared_policy(job, broker, NetworkError("probe"))


def test_retry_when_decides_the_policy_and_max_retries_is_ignored_beside_it(policy_broker):
    # Given retry_when predicates with and without a bound, one beside max_retries=4
    bounded = declared(policy_broker, retry_when=lambda n, e: n < 3)
    unbounded = declared(policy_broker, max_retries=4, retry_when=lambda n, e: True)
    # Then the bounded one allows 3 retries; the other never stops, whatever max_retries says
    assert bounded.retries == 3
    assert math.isinf(unbounded.retries) and "ignores max_retries=4" in unbounded.how


def test_without_retry_when_max_retries_or_dramatiqs_default_decides(policy_broker):
    assert declared(policy_broker, max_retries=2).retries == 2
    assert declared(policy_broker).retries == 20
    assert math.isinf(declared(policy_broker, max_retries=None).retries)


def test_a_predicate_that_raises_is_reported_not_fatal(policy_broker):
    def broken(retries, exc):
        raise KeyError("oops")

    policy = declared(policy_broker, retry_when=broken)
    assert policy.retries == 0 and "raised KeyError" in policy.how
