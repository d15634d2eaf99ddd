"""Sharing work between scrapes: single flight for concurrent ones, a TTL cache for close
ones. Both serve `/metrics` and `/probe` alike.

A scrape never receives results computed under a shorter deadline than its own: each
call carries its budget (the seconds its collection may take, `math.inf` for none), a
scrape joins only a collection in flight whose budget is at least its own and which ends
by the time its own would, and the cache serves a result only to a scrape whose budget
is no longer than the one it was computed under. Otherwise the scrape collects itself.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Keys a cache holds at most: probes name ids that come and go.
MAX_CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class _Flight(Generic[T]):
    future: Future[T]
    budget: float  # seconds the call may take
    ends: float  # by when (monotonic) it has taken them at the latest


class SingleFlight(Generic[T]):
    """Callers arriving while a call with the same key is in flight wait for and share its
    result when it serves them as well as their own call would: its budget is at least
    theirs and it ends no later than theirs would. Otherwise they make their own call."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._current: dict[Hashable, list[_Flight[T]]] = {}

    def run(self, fn: Callable[[], T], key: Hashable = None, budget: float = math.inf) -> T:
        ends = self._clock() + budget
        with self._lock:
            flights = self._current.setdefault(key, [])
            flight = next((f for f in flights if f.budget >= budget and f.ends <= ends), None)
            leader = flight is None
            if flight is None:
                flight = _Flight(Future(), budget, ends)
                flights.append(flight)
        if leader:
            try:
                flight.future.set_result(fn())
            except BaseException as exc:
                flight.future.set_exception(exc)
            finally:
                with self._lock:
                    flights.remove(flight)
                    if not flights:
                        del self._current[key]
        return flight.future.result()

    def in_flight(self, key: Hashable = None) -> int:
        """Calls running for `key` now."""
        with self._lock:
            return len(self._current.get(key, ()))


class TtlCache(Generic[T]):
    """The last result per key, served for `seconds` (0 turns it off) to callers whose
    budget is no longer than the one it was computed under; expired entries go when
    another is stored, and the least recently stored key goes first once `capacity` keys
    are held."""

    def __init__(
        self, seconds: float, clock: Callable[[], float], capacity: int = MAX_CACHE_ENTRIES
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._capacity = capacity
        self._lock = threading.Lock()
        # key -> (stored at, budget it was computed under, value), oldest first
        self._entries: OrderedDict[Hashable, tuple[float, float, T]] = OrderedDict()

    def get(self, key: Hashable, budget: float = math.inf) -> T | None:
        if self.seconds <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.seconds or entry[1] < budget:
            return None
        return entry[2]

    def put(self, key: Hashable, value: T, budget: float = math.inf) -> None:
        if self.seconds <= 0:
            return
        now = self._clock()
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (now, budget, value)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            while self._entries:  # stored in time order: the expired ones are first
                oldest = next(iter(self._entries.values()))
                if now - oldest[0] < self.seconds:
                    break
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def cached(
    cache: TtlCache[T],
    flight: SingleFlight[T],
    key: Hashable,
    fresh: Callable[[], T],
    budget: float = math.inf,
) -> T:
    """The cached value for `key`, or one fresh computation shared by concurrent callers;
    `budget`: the seconds this caller's computation may take (`math.inf`: no limit)."""
    value = cache.get(key, budget)
    if value is not None:
        return value

    def compute() -> T:
        result = fresh()
        cache.put(key, result, budget)
        return result

    return flight.run(compute, key, budget)
