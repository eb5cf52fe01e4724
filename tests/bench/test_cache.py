"""The Django-style cache on diskcache and on Redis: same behaviour, counted lookups,
expiry by the injected clock (no sleeping), locks shared across threads."""

import threading

import pytest

from perfkata.bench.cache import open_cache
from perfkata.bench.clock import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cache(redis_url, tmp_path, clock):
    with open_cache(redis_url, tmp_path / "cache", clock, default_timeout=60) as made:
        yield made


def test_get_set_and_counted_hits_and_misses(cache):
    assert cache.get("a") is None
    cache.set("a", {"x": 1})
    assert cache.get("a") == {"x": 1}
    assert (cache.stats.hits, cache.stats.misses, cache.stats.sets) == (1, 1, 1)


def test_entries_expire_by_the_injected_clock(cache, clock):
    cache.set("short", 1, timeout=10)
    cache.set("default", 2)  # 60 s by this cache's default
    cache.set("forever", 3, timeout=None)
    clock.advance(11)
    assert cache.get("short") is None and cache.get("default") == 2
    clock.advance(60)
    assert cache.get("default") is None and cache.get("forever") == 3


def test_add_sets_only_when_absent_or_expired(cache, clock):
    assert cache.add("k", 1, timeout=5) is True
    assert cache.add("k", 2) is False and cache.get("k") == 1
    clock.advance(6)
    assert cache.add("k", 3) is True and cache.get("k") == 3


def test_many_calls_and_delete(cache):
    cache.set_many({"a": 1, "b": 2, "c": 3})
    assert cache.get_many(["a", "b", "zz"]) == {"a": 1, "b": 2}
    cache.delete_many(["a", "b"])
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}
    assert cache.delete("c") is True and cache.delete("c") is False


def test_get_or_set_calls_the_default_only_on_a_miss(cache):
    calls = []
    assert cache.get_or_set("k", lambda: calls.append(1) or "v") == "v"
    assert cache.get_or_set("k", lambda: calls.append(1) or "w") == "v"
    assert calls == [1]


def test_incr_touch_and_entry_count(cache, clock):
    cache.set("n", 1, timeout=10)
    assert cache.incr("n", 5) == 6 and cache.decr("n") == 5
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    assert cache.touch("n", timeout=100) is True
    clock.advance(50)
    assert cache.get("n") == 5
    assert cache.entry_count() == 1


def test_lock_lets_one_thread_compute_at_a_time(cache):
    # Given eight threads released together, each doing read-modify-write increments of
    # a counter kept in the cache itself (every get and set is I/O: threads switch there)
    inside, most = [0], [0]
    barrier = threading.Barrier(8)
    cache.set("n", 0)

    def worker():
        barrier.wait()
        for _ in range(10):
            with cache.lock("job", timeout=60):  # the timeout only ends a hang
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                cache.set("n", cache.get("n") + 1)
                inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then no two were ever inside at once, and no increment was lost
    assert most[0] == 1 and cache.get("n") == 80
