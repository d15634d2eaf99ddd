"""Client-side flow control that learns the service's rate instead of assuming one.

Alibaba Cloud throttles per account, region and action (`Throttling.User`, HTTP 400). The
client keeps one `AdaptiveLimiter` per (region, action) in a `FlowControl`:

- it starts unconstrained: calls go out as fast as `concurrency` lets them;
- a throttled answer lowers the rate multiplicatively, to `BETA` (0.7) times the smaller of
  the rate in force and the measured send rate (smoothed over half-second intervals), and
  from then on a token bucket with that fill rate (bursts of one second's worth) paces the
  calls of that key;
- answers that are not throttled raise it again along a CUBIC curve (as TCP CUBIC, and
  the AWS SDKs' "adaptive" retry mode, do): quickly back towards the rate that was
  throttled, slowly past it, then faster while nothing is throttled;
- only calls sent after the last decrease can lower the rate again: the throttled answers
  of calls already in flight describe the old rate, not the new one;
- the recovery clock counts at most `IDLE_CAP` seconds of a pause, and after a pause the
  rate goes on from the plateau (the rate last throttled): the rate learnt in one scrape
  is where the next one starts, not a rate probed (or grown) while nothing was sent;
- a call waiting for its turn looks again at least every `POLL` seconds, so a rate that
  grows back lets it go sooner than the rate it started waiting under.

`max_requests_per_second` > 0 adds a hard ceiling: a token bucket over all calls, and no
key's rate grows past it. `acquire` never waits past the caller's deadline: it returns None
instead and takes nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from dts_exporter.base.logfmt import value

log = logging.getLogger(__name__)

BETA = 0.7  # the rate kept on a throttled answer
SCALE = 0.4  # CUBIC's C, in calls per second per second cubed
MIN_RATE = 0.5  # never slower than a call every two seconds
MAX_RATE = 10_000.0  # the highest rate kept (the config's bound on the ceiling)
INTERVAL = 0.5  # seconds per measurement of the send rate
SMOOTHING = 0.8  # weight of the newest interval in the smoothed send rate
IDLE_CAP = 1.0  # at most this much of a pause counts towards recovery
POLL = 0.1  # longest sleep of a call waiting for an adaptive bucket's token

_EPSILON = 1e-6
Key = tuple[str, str]  # (region, action)


class TokenBucket:
    """At most `rate` calls per second on average, bursts of up to `burst`.

    `acquire` blocks until a token is free, or returns False when that would take past
    `deadline` (a `clock` value), so a rate limit never pushes a scrape past its deadline.
    `set_rate` changes the fill rate (and a default burst with it) for the calls to come.
    Without `poll`, a call reserves its token and sleeps until it is due (first come, first
    served); with it, a call sleeps at most `poll` seconds at a time and takes a token only
    once there is one, so a new rate applies to the calls already waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        tokens: float | None = None,
        poll: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._fixed_burst = burst
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity if tokens is None else min(tokens, self.capacity)
        self._poll = poll
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._refill(self._clock())
            self.rate = rate
            if self._fixed_burst is None:
                self.capacity = max(1.0, rate)
                self._tokens = min(self._tokens, self.capacity)

    def acquire(self, deadline: float | None = None) -> bool:
        if self._poll is not None:
            return self._acquire_polling(self._poll, deadline)
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0  # reserve; a negative balance is the queue in front of us
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if deadline is not None and now + wait > deadline:
                self._tokens += 1.0
                return False
        if wait > 0:
            self._sleep(wait)
        return True

    def _acquire_polling(self, poll: float, deadline: float | None) -> bool:
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0 - _EPSILON:  # float rounding must not stall a wait
                    self._tokens -= 1.0
                    return True
                wait = max(_EPSILON, (1.0 - self._tokens) / self.rate)
                if deadline is not None and now + wait > deadline:
                    return False
            self._sleep(min(wait, poll))


class SendRate:
    """Calls sent per second: counted per interval of at least `INTERVAL` seconds and
    smoothed; an interval longer than `IDLE_CAP` + `INTERVAL` is a pause, not a rate."""

    def __init__(self, now: float) -> None:
        self._start = now
        self._count = 0
        self._smoothed: float | None = None

    def sent(self, now: float) -> None:
        elapsed = now - self._start
        if elapsed > INTERVAL + IDLE_CAP:
            self._start, self._count = now, 0  # after a pause: start measuring afresh
        elif elapsed >= INTERVAL:
            sample = self._count / elapsed
            self._smoothed = (
                sample
                if self._smoothed is None
                else SMOOTHING * sample + (1 - SMOOTHING) * self._smoothed
            )
            self._start, self._count = now, 0
        self._count += 1

    def value(self, now: float) -> float:
        """The smoothed rate; before a whole interval, the calls so far over at least one
        interval (an estimate on the low side)."""
        if self._smoothed is not None:
            return self._smoothed
        return self._count / max(now - self._start, INTERVAL)


class AdaptiveLimiter:
    """One key's rate: unconstrained until throttled, then a token bucket whose fill rate
    drops by `BETA` on a throttled answer and grows back along a CUBIC curve."""

    def __init__(
        self,
        ceiling: float = 0.0,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._ceiling = ceiling
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._sent = SendRate(now)
        self._bucket: TokenBucket | None = None  # None: unconstrained
        self._last_max = 0.0  # the rate a throttled answer last cut from
        self._busy = 0.0  # seconds of activity, pauses counted as at most IDLE_CAP
        self._last_event = now
        self._cut_busy = 0.0  # self._busy at the last decrease
        self._cut_at = -math.inf  # clock at the last decrease
        self.throttled = 0  # throttled answers fed back

    @property
    def rate(self) -> float | None:
        """The fill rate in force, or None while unconstrained."""
        bucket = self._bucket
        return None if bucket is None else bucket.rate

    def set_ceiling(self, ceiling: float) -> None:
        with self._lock:
            self._ceiling = ceiling
            if self._bucket is not None and ceiling > 0 and self._bucket.rate > ceiling:
                self._bucket.set_rate(ceiling)

    def _tick(self, now: float) -> None:
        self._busy += min(max(0.0, now - self._last_event), IDLE_CAP)
        self._last_event = now

    def acquire(self, deadline: float | None = None) -> float | None:
        """Wait for this key's turn: the send time (a `clock` value) to hand back to
        `feedback`, or None (nothing taken) when the wait would pass `deadline`."""
        bucket = self._bucket
        if bucket is not None:
            self._resume()
        if bucket is not None and not bucket.acquire(deadline):
            return None
        with self._lock:
            now = self._clock()
            self._tick(now)
            self._sent.sent(now)
            return now

    def _resume(self) -> None:
        """After a pause, go on from the plateau: at the rate last throttled, whether the
        curve was still below it or had probed past it before the pause."""
        with self._lock:
            bucket = self._bucket
            if bucket is None or self._clock() - self._last_event <= IDLE_CAP:
                return
            self._cut_busy = self._busy - self._plateau()
            bucket.set_rate(self._bounded(self._last_max))

    def feedback(self, sent: float, throttled: bool) -> None:
        """The answer to a call sent at `sent` (from `acquire`) was throttled or not."""
        with self._lock:
            now = self._clock()
            self._tick(now)
            if throttled:
                self.throttled += 1
                if sent >= self._cut_at:
                    self._decrease(now)
            elif self._bucket is not None:
                self._bucket.set_rate(self._cubic())

    def _decrease(self, now: float) -> None:
        measured = self._sent.value(now)
        current = measured if self._bucket is None else min(measured, self._bucket.rate)
        self._last_max = current
        self._cut_at = now
        self._cut_busy = self._busy
        rate = self._bounded(BETA * current)
        if self._bucket is None:
            # The service's bucket is empty now: start with none of our own either.
            self._bucket = TokenBucket(
                rate, tokens=0.0, poll=POLL, clock=self._clock, sleep=self._sleep
            )
            log.info(
                "flow control engaged: throttled by the service key=%s measured_rate=%.2f "
                "rate=%.2f",
                value(self.name),
                measured,
                rate,
            )
        else:
            self._bucket.set_rate(rate)
            log.debug(
                "flow control lowered the rate key=%s previous=%.2f rate=%.2f",
                value(self.name),
                current,
                rate,
            )

    def _cubic(self) -> float:
        """The rate `t` busy seconds after the last decrease: BETA x last_max at t = 0,
        last_max again at t = K, faster growth after."""
        t = self._busy - self._cut_busy
        return self._bounded(SCALE * (t - self._plateau()) ** 3 + self._last_max)

    def _plateau(self) -> float:
        """K: the busy seconds after a decrease the curve takes back to last_max."""
        return float((self._last_max * (1 - BETA) / SCALE) ** (1 / 3))

    def _bounded(self, rate: float) -> float:
        top = min(self._ceiling, MAX_RATE) if self._ceiling > 0 else MAX_RATE
        return max(MIN_RATE, min(rate, top))


class Flow(Protocol):
    """What a client asks of flow control: a turn before each call, the outcome after."""

    def acquire(self, region: str, action: str, deadline: float | None = None) -> float | None: ...

    def feedback(self, region: str, action: str, sent: float, throttled: bool) -> None: ...


class FlowControl:
    """Adaptive limiters per (region, action), made on first use, and the optional hard
    ceiling over all calls. Thread-safe; meant to live as long as the process."""

    def __init__(
        self,
        ceiling: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[Key, AdaptiveLimiter] = {}
        self.ceiling = 0.0
        self._ceiling_bucket: TokenBucket | None = None
        self.set_ceiling(ceiling)

    def set_ceiling(self, ceiling: float) -> None:
        """`max_requests_per_second`: 0 for none. What was learnt stays."""
        with self._lock:
            if ceiling == self.ceiling:
                return
            self.ceiling = ceiling
            self._ceiling_bucket = (
                TokenBucket(ceiling, clock=self._clock, sleep=self._sleep) if ceiling > 0 else None
            )
            limiters = list(self._limiters.values())
        for limiter in limiters:
            limiter.set_ceiling(ceiling)

    def limiter(self, region: str, action: str) -> AdaptiveLimiter:
        key = (region, action)
        with self._lock:
            found = self._limiters.get(key)
            if found is None:
                found = AdaptiveLimiter(
                    self.ceiling,
                    name=f"{region}/{action}",
                    clock=self._clock,
                    sleep=self._sleep,
                )
                self._limiters[key] = found
            return found

    def acquire(self, region: str, action: str, deadline: float | None = None) -> float | None:
        """Wait for the key's turn, then for the ceiling's: the send time for `feedback`,
        or None when either wait would pass `deadline`."""
        sent = self.limiter(region, action).acquire(deadline)
        if sent is None:
            return None
        ceiling = self._ceiling_bucket
        if ceiling is not None and not ceiling.acquire(deadline):
            return None
        return sent

    def feedback(self, region: str, action: str, sent: float, throttled: bool) -> None:
        self.limiter(region, action).feedback(sent, throttled)

    def rates(self) -> dict[Key, float]:
        """The fill rate of every key the service has throttled, by (region, action)."""
        with self._lock:
            limiters = dict(self._limiters)
        out: dict[Key, float] = {}
        for key, limiter in limiters.items():
            rate = limiter.rate
            if rate is not None:
                out[key] = rate
        return out

    def share(self, fraction: float) -> FlowShare:
        """A view for calls of lower priority that may use at most `fraction` of each
        throttled key's rate and of the ceiling (see `FlowShare`)."""
        return FlowShare(self, fraction, clock=self._clock, sleep=self._sleep)


class FlowShare:
    """A share of a `FlowControl` for calls of lower priority (`/probe`'s): they take their
    turn in the process's flow control like every call, and besides may use at most
    `fraction` of a key's learnt rate (and of the ceiling), so that they never take more
    than that share of a throttled account's rate from the configured ids. A key the
    service never throttled (and no ceiling) is not paced: the share's own workers bound it.
    """

    def __init__(
        self,
        parent: FlowControl,
        fraction: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.parent = parent
        self.fraction = fraction
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[Key, TokenBucket] = {}

    def limit(self, region: str, action: str) -> float | None:
        """The most calls per second this share may make for the key now; None: no limit."""
        rates = [
            rate for rate in (self.parent.limiter(region, action).rate, self.parent.ceiling) if rate
        ]
        return max(MIN_RATE, self.fraction * min(rates)) if rates else None

    def acquire(self, region: str, action: str, deadline: float | None = None) -> float | None:
        limit = self.limit(region, action)
        if limit is not None and not self._bucket((region, action), limit).acquire(deadline):
            return None
        return self.parent.acquire(region, action, deadline)

    def feedback(self, region: str, action: str, sent: float, throttled: bool) -> None:
        self.parent.feedback(region, action, sent, throttled)

    def _bucket(self, key: Key, rate: float) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(rate, poll=POLL, clock=self._clock, sleep=self._sleep)
                self._buckets[key] = bucket
            elif bucket.rate != rate:
                bucket.set_rate(rate)
            return bucket
