"""When to retry a failed API call, how long to wait, and how fast to call at all."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dts_exporter.base import errors


def is_retryable(code: str) -> bool:
    """Throttling, temporary unavailability, 5xx and transport failures are worth another
    try; authentication, permission, parameter and business errors never are."""
    return (
        code.startswith("Throttling")
        or code in ("ServiceUnavailable", "InternalError", "InternalError.Unknown")
        or code.startswith("HTTP5")
        or code in (errors.CONNECTION_ERROR, errors.TIMEOUT)
    )


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based): exponential with full
        jitter, or what the service asked for with `x-acs-retry-after` if longer."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (retry - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


class TokenBucket:
    """At most `rate` calls per second on average, bursts of up to `burst`.

    `acquire` blocks until a token is free, or returns False when that would take past
    `deadline` (a `clock` value), so a rate limit never pushes a scrape past its deadline.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0  # reserve; a negative balance is the queue in front of us
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if deadline is not None and now + wait > deadline:
                self._tokens += 1.0
                return False
        if wait > 0:
            self._sleep(wait)
        return True
