"""Retry policy, backoff and the token bucket: counts and waits, never wall-clock timings."""

from __future__ import annotations

import pytest

from dts_exporter.wire.flow import TokenBucket
from dts_exporter.wire.retry import RetryPolicy, is_retryable


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
        "HTTP502",
        "HTTP503",
        "Timeout",
        "ConnectionError",
    ],
)
def test_transient_codes_are_retried(code: str) -> None:
    assert is_retryable(code)


@pytest.mark.parametrize(
    "code",
    [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
        "Forbidden.RAM",
        "InvalidSecurityToken.Expired",
        "InvalidParameter",
        "InvalidJobId",
        "InvalidResponse",
        "HTTP404",
        "MissingSynchronizationJobId",
    ],
)
def test_authentication_parameter_and_business_errors_are_not(code: str) -> None:
    assert not is_retryable(code)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=0.2, cap_seconds=1.0)
    for retry, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)]:
        waits = [policy.backoff(retry) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len({round(w, 6) for w in waits}) > 1  # jittered


def test_backoff_honours_retry_after() -> None:
    assert RetryPolicy(base_seconds=0.2).backoff(1, retry_after=3.0) == 3.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    for _ in range(10):
        assert bucket.acquire()
    assert t.slept == []
    for _ in range(20):
        assert bucket.acquire()
    assert t.now - 100.0 == pytest.approx(2.0)  # 20 more calls at 10/s


def test_token_bucket_refuses_to_wait_past_a_deadline() -> None:
    t = FakeTime()
    bucket = TokenBucket(1, burst=1, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(deadline=t.now + 10)
    assert not bucket.acquire(deadline=t.now + 0.5)  # the next token is 1 s away
    assert t.slept == []
    assert bucket.acquire(deadline=t.now + 1.5)  # the refused call did not take the token
    assert t.slept == [pytest.approx(1.0)]
