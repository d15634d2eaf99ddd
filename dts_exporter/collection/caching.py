"""Sharing work between scrapes: single flight for concurrent ones, a TTL cache for close
ones. Both serve `/metrics` and `/probe` alike."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")

# Keys a cache holds at most: probes name ids that come and go.
MAX_CACHE_ENTRIES = 10_000


class SingleFlight(Generic[T]):
    """Callers arriving while a call with the same key is in flight wait for and share its
    result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[Hashable, Future[T]] = {}

    def run(self, fn: Callable[[], T], key: Hashable = None) -> T:
        with self._lock:
            future = self._current.get(key)
            leader = future is None
            if future is None:
                future = self._current[key] = Future()
        if leader:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                with self._lock:
                    del self._current[key]
        return future.result()


class TtlCache(Generic[T]):
    """The last result per key, served for `seconds` (0 turns it off); the least recently
    stored key goes first once `capacity` keys are held."""

    def __init__(
        self, seconds: float, clock: Callable[[], float], capacity: int = MAX_CACHE_ENTRIES
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()

    def get(self, key: Hashable) -> T | None:
        if self.seconds <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.seconds:
            return None
        return entry[1]

    def put(self, key: Hashable, value: T) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock(), value)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def cached(cache: TtlCache[T], flight: SingleFlight[T], key: Hashable, fresh: Callable[[], T]) -> T:
    """The cached value for `key`, or one fresh computation shared by concurrent callers."""
    value = cache.get(key)
    if value is not None:
        return value

    def compute() -> T:
        result = fresh()
        cache.put(key, result)
        return result

    return flight.run(compute, key)
