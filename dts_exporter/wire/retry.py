"""When to retry a failed API call and how long to wait (how fast to call at all is `flow`)."""

from __future__ import annotations

import random
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
