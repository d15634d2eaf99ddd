"""Process-lifetime counters of the exporter's own API traffic.

Kept as plain thread-safe tallies and turned into metric families on each scrape, so the
collector owns every series it exposes and nothing lives on a global registry.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


class ApiStats:
    """Requests by (action, code), durations by action, unusable fields by action."""

    def __init__(self, actions: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)
        self._durations: dict[str, _Histogram] = defaultdict(_Histogram)
        self._problems: dict[str, int] = defaultdict(int)
        self._retries: dict[tuple[str, str], int] = defaultdict(int)
        self._refreshes: dict[tuple[str, str], int] = defaultdict(int)
        for action in actions:  # present from the start, so rate() works on the first change
            self._requests[(action, "Success")] = 0
            self._durations[action] = _Histogram()
            self._problems[action] = 0

    def observe(self, action: str, code: str, seconds: float) -> None:
        with self._lock:
            self._requests[(action, code)] += 1
            self._durations[action].observe(seconds)

    def retry(self, action: str, code: str) -> None:
        with self._lock:
            self._retries[(action, code)] += 1

    def refresh(self, provider: str, code: str) -> None:
        with self._lock:
            self._refreshes[(provider, code)] += 1

    def retries(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._retries)

    def refreshes(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._refreshes)

    def add_problems(self, action: str, count: int) -> None:
        with self._lock:
            self._problems[action] += count

    def requests(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._requests)

    def durations(self) -> dict[str, tuple[list[tuple[str, float]], float]]:
        with self._lock:
            return {a: (h.cumulative(), h.total) for a, h in self._durations.items()}

    def problems(self) -> dict[str, int]:
        with self._lock:
            return dict(self._problems)
