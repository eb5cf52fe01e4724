"""A Django-style cache API over diskcache or Redis, with an injectable clock and counts.

The learner codes against the same calls as Django's cache framework (`get`, `set`, `add`,
`get_or_set`, `get_many` …, timeouts in seconds, `None` = forever) plus `lock()` for
stampede protection, so what they learn transfers. Expiry is decided by perfkata's clock,
not the store's, so tests jump time instead of sleeping; every lookup is counted as a hit
or a miss for the grader.
"""

from __future__ import annotations

import pickle
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import diskcache
import redis

from perfkata.ownership import owner_tag

DEFAULT_TIMEOUT = 300.0
_MISSING: Any = object()  # "no value" and "the default timeout", as in Django
Timeout = Any  # seconds (float), None for never, or left out for the default


class Clock(Protocol):
    def now(self) -> float: ...


class Store(Protocol):
    """The few raw operations a backend provides, on bytes."""

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes) -> None: ...
    def add(self, key: str, value: bytes) -> bool: ...
    def delete(self, key: str) -> bool: ...
    def iter_keys(self) -> Iterator[str]: ...
    def lock(self, key: str, timeout: float) -> AbstractContextManager[Any]: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class DiskStore:
    """diskcache in an explicit folder (never a global temp dir)."""

    def __init__(self, directory: Path) -> None:
        self.cache = diskcache.Cache(str(directory))

    def get(self, key: str) -> bytes | None:
        value = self.cache.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        self.cache.set(key, value)

    def add(self, key: str, value: bytes) -> bool:
        return bool(self.cache.add(key, value))

    def delete(self, key: str) -> bool:
        return bool(self.cache.delete(key))

    def iter_keys(self) -> Iterator[str]:
        return (k for k in self.cache.iterkeys() if not str(k).startswith("lock:"))

    def lock(self, key: str, timeout: float) -> AbstractContextManager[Any]:
        return cast(
            AbstractContextManager[Any], diskcache.Lock(self.cache, f"lock:{key}", expire=timeout)
        )

    def clear(self) -> None:
        self.cache.clear()

    def close(self) -> None:
        self.cache.close()


class RedisStore:
    """Redis, every key under a private prefix so parallel runs never meet."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2)
        # perfkata:<owner pid>_<grade>_<id>: swept by the next grade if its owner died
        self.prefix = prefix or f"perfkata:{owner_tag()}_{uuid.uuid4().hex[:12]}:"

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> bytes | None:
        value = self.client.get(self._k(key))
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        self.client.set(self._k(key), value)

    def add(self, key: str, value: bytes) -> bool:
        return bool(self.client.set(self._k(key), value, nx=True))

    def delete(self, key: str) -> bool:
        return bool(self.client.delete(self._k(key)))

    def iter_keys(self) -> Iterator[str]:
        for raw in self.client.scan_iter(match=self.prefix + "*", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not key.startswith(self.prefix + "lock:"):
                yield key[len(self.prefix) :]

    def lock(self, key: str, timeout: float) -> AbstractContextManager[Any]:
        found = self.client.lock(
            self._k(f"lock:{key}"), timeout=timeout, sleep=0.002, blocking_timeout=timeout
        )
        return cast(AbstractContextManager[Any], found)

    def clear(self) -> None:
        for raw in self.client.scan_iter(match=self.prefix + "*", count=500):
            self.client.delete(raw)

    def close(self) -> None:
        self.client.close()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    clears: int = 0
    locks: int = 0  # cache.lock() calls
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    @property
    def hit_ratio(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def snapshot(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "sets": self.sets,
            "deletes": self.deletes,
            "clears": self.clears,
            "locks": self.locks,
        }


class Cache:
    """Django's cache API on a Store, with expiry judged by `clock`."""

    def __init__(self, store: Store, clock: Clock, default_timeout: float = DEFAULT_TIMEOUT):
        self.store = store
        self.clock = clock
        self.default_timeout = default_timeout
        self.stats = CacheStats()

    # -- encoding: (expires_at or None, value) --------------------------------------------
    def _expiry(self, timeout: Timeout) -> float | None:
        if timeout is _MISSING:
            timeout = self.default_timeout
        return None if timeout is None else self.clock.now() + float(timeout)

    def _live(self, raw: bytes | None) -> Any:
        if raw is None:
            return _MISSING
        expires_at, value = pickle.loads(raw)
        return _MISSING if expires_at is not None and expires_at <= self.clock.now() else value

    def _encode(self, value: Any, timeout: Timeout) -> bytes:
        return pickle.dumps((self._expiry(timeout), value), protocol=pickle.HIGHEST_PROTOCOL)

    # -- Django's calls ------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        value = self._live(self.store.get(key))
        self.stats.count("misses" if value is _MISSING else "hits")
        return default if value is _MISSING else value

    def set(self, key: str, value: Any, timeout: Timeout = _MISSING) -> None:
        self.stats.count("sets")
        self.store.set(key, self._encode(value, timeout))

    def add(self, key: str, value: Any, timeout: Timeout = _MISSING) -> bool:
        """Set only if absent (or expired); True if it was set. Atomic, as Django's is, so
        `add` works as a lock: only an entry seen expired is removed first, under a lock
        and only if it is still that entry — an unconditional delete here let two racing
        callers each remove the other's fresh entry and both "win"."""
        raw = self.store.get(key)
        if raw is not None and self._live(raw) is not _MISSING:
            return False  # a live entry: no second round trip (versions are added per read)
        if raw is not None:
            with self.store.lock(f"add:{key}", timeout=5):
                if self.store.get(key) == raw:
                    self.store.delete(key)
        added = self.store.add(key, self._encode(value, timeout))
        if added:
            self.stats.count("sets")
        return added

    def delete(self, key: str) -> bool:
        self.stats.count("deletes")
        return self.store.delete(key)

    def get_or_set(self, key: str, default: Any, timeout: Timeout = _MISSING) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = default() if callable(default) else default
            self.set(key, value, timeout)
        return value

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        found = {key: self.get(key, _MISSING) for key in keys}
        return {key: value for key, value in found.items() if value is not _MISSING}

    def set_many(self, mapping: Mapping[str, Any], timeout: Timeout = _MISSING) -> list[str]:
        for key, value in mapping.items():
            self.set(key, value, timeout)
        return []  # Django returns the keys that failed to be set

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def incr(self, key: str, delta: int = 1) -> int:
        """Add to a stored integer (ValueError if absent, as in Django); keeps its expiry."""
        with self.store.lock(f"incr:{key}", timeout=5):
            raw = self.store.get(key)
            if self._live(raw) is _MISSING:
                raise ValueError(f"Key {key!r} not found")
            assert raw is not None
            expires_at, value = pickle.loads(raw)
            value = int(value) + delta
            self.store.set(key, pickle.dumps((expires_at, value)))
            return value

    def decr(self, key: str, delta: int = 1) -> int:
        return self.incr(key, -delta)

    def touch(self, key: str, timeout: Timeout = _MISSING) -> bool:
        value = self._live(self.store.get(key))
        if value is _MISSING:
            return False
        self.store.set(key, self._encode(value, timeout))
        return True

    def lock(self, key: str, timeout: float = 10.0) -> AbstractContextManager[Any]:
        """A lock shared by every process using this cache: `with cache.lock(key): …`."""
        self.stats.count("locks")
        return self.store.lock(key, timeout)

    def clear(self) -> None:
        self.stats.count("clears")
        self.store.clear()

    def entry_count(self) -> int:
        """Entries stored (expired ones included: they still take space until replaced)."""
        return sum(1 for _ in self.store.iter_keys())


@contextmanager
def open_cache(
    redis_url: str | None,
    directory: Path,
    clock: Clock,
    *,
    default_timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[Cache]:
    """A fresh, empty cache on Redis (if a URL is given) or diskcache in `directory`."""
    store: Store = RedisStore(redis_url) if redis_url else DiskStore(directory)
    store.clear()
    try:
        yield Cache(store, clock, default_timeout)
    finally:
        store.clear()
        store.close()
