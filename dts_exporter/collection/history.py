"""What the exporter remembers of earlier collections, per (action, job id, task id).

One owner, one lock: the last good result of each id (its time for
dts_last_success_timestamp_seconds, its values for stale_seconds) and, for settled ids
(nothing left to move), when they were fetched, so they are re-checked only every
settled_refresh_seconds. Entries go when an id is neither monitored nor among the most
recently probed ones, so neither a changing fleet nor a stream of probes grows it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from dts_exporter.base.records import Result

Key = tuple[str, str, str]  # (action, job id, task id)

# Probed ids remembered at most, beyond the monitored ones.
PROBE_CAPACITY = 1000


@dataclass(frozen=True)
class _Entry:
    good: Result[Any]  # the last successful result
    fetched_at: float  # monotonic time it was fetched
    settled: bool  # nothing left to move when it was fetched


class History:
    def __init__(
        self,
        *,
        settled_refresh_seconds: float,
        stale_seconds: float,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        probe_capacity: int = PROBE_CAPACITY,
    ) -> None:
        self._settled_refresh = settled_refresh_seconds
        self._stale = stale_seconds
        self._clock = clock
        self._wall = wall_clock
        self._probe_capacity = probe_capacity
        self._lock = threading.Lock()
        self._entries: dict[Key, _Entry] = {}
        self._monitored: frozenset[Key] = frozenset()
        self._probed: OrderedDict[Key, None] = OrderedDict()

    def reusable(self, key: Key, interval: float = 0.0) -> Result[Any] | None:
        """The last good result of `key` while it need not be fetched again: an action
        refreshed every `interval` seconds, or a settled id (every settled_refresh_seconds)."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        window = max(interval, self._settled_refresh) if entry.settled else interval
        if window <= 0 or self._clock() - entry.fetched_at >= window:
            return None
        return entry.good

    def last_good(self, key: Key) -> Result[Any] | None:
        """The last good result of `key`, however old (its page count paces the next fetch)."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry.good

    def record(self, result: Result[Any], *, settled: bool, reused: bool) -> Result[Any]:
        """Remember a success (`settled`: nothing left to move; `reused`: it came from
        `reusable`, so its fetch time stays); give a failure the last success time and,
        with stale_seconds, the last good values (dts_up still reads 0)."""
        key = result.key
        with self._lock:
            if result.error is None and result.record is not None:
                old = self._entries.get(key)
                if not (reused and old is not None):  # a reused result keeps its fetch time
                    self._entries[key] = _Entry(result, self._clock(), settled)
                return replace(result, last_success=result.refreshed_at)
            entry = self._entries.get(key)
        seen = None if entry is None else entry.good.refreshed_at
        if entry is None or seen is None:
            return result
        if self._stale > 0 and self._wall() - seen <= self._stale:
            return replace(result, record=entry.good.record, refreshed_at=seen, last_success=seen)
        return replace(result, last_success=seen)

    def monitor(self, keys: Iterable[Key]) -> None:
        """The ids a full collection covers now: others are forgotten unless probed lately."""
        with self._lock:
            self._monitored = frozenset(keys)
            self._prune()

    def probed(self, keys: Iterable[Key]) -> None:
        """Ids a probe covered: kept, up to the capacity, the least recently probed first
        to go."""
        with self._lock:
            for key in keys:
                self._probed.pop(key, None)
                self._probed[key] = None
            while len(self._probed) > self._probe_capacity:
                self._probed.popitem(last=False)
            self._prune()

    def kept(self) -> frozenset[Key]:
        """The ids remembered: the monitored ones and the recently probed ones."""
        with self._lock:
            return self._monitored | frozenset(self._probed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _prune(self) -> None:
        stale = [k for k in self._entries if k not in self._monitored and k not in self._probed]
        for key in stale:
            del self._entries[key]
