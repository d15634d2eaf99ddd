"""The service's flow control: a token bucket per (region, action), off unless asked for.

Alibaba Cloud limits calls per account, region and action; past the limit a call is
answered 400 `Throttling.User` ("Request was denied due to user flow control."). With
`flow_control: {requests_per_second: 20, burst: 20}` in a scenario (or `PUT
/_simulator/flow_control`, or `dts-exporter simulate --flow-control-rate`), each
(RegionId, action) of a DTS call gets a bucket of `burst` calls that refills at
`requests_per_second`; an authenticated call that finds it empty is throttled. `burst`
defaults to one second's worth (at least 1).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dts_exporter.base.errors import ConfigError
from dts_exporter.simulator.scenario_values import type_name

THROTTLED_CODE = "Throttling.User"
THROTTLED_MESSAGE = "Request was denied due to user flow control."
_KEYS = ("requests_per_second", "burst")


@dataclass(frozen=True)
class FlowSettings:
    requests_per_second: float
    burst: float

    @classmethod
    def of(cls, requests_per_second: float, burst: float | None = None) -> FlowSettings:
        return cls(
            requests_per_second, burst if burst is not None else max(1.0, requests_per_second)
        )


def _positive(spec: dict[object, object], name: str, path: str, source: str) -> float | None:
    if name not in spec:
        return None
    raw = spec[name]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{source}: {path}.{name}: expected a number > 0, got {raw!r}")
    number = float(raw)
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{source}: {path}.{name}: expected a number > 0, got {raw!r}")
    return number


def parse_flow_control(
    value: object, source: str, path: str = "flow_control"
) -> FlowSettings | None:
    """`{requests_per_second: N, burst: M}` (burst optional); null or {} is off."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: {path}: expected a mapping with requests_per_second and burst, "
            f"got {type_name(value)}"
        )
    if not value:
        return None
    unknown = sorted(str(key) for key in value if key not in _KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {path}.{unknown[0]}: unknown key (expected one of: {', '.join(_KEYS)})"
        )
    rate = _positive(value, "requests_per_second", path, source)
    if rate is None:
        raise ConfigError(f"{source}: {path}.requests_per_second: missing")
    return FlowSettings.of(rate, _positive(value, "burst", path, source))


class ServiceFlow:
    """The buckets, made on first use; `admit` answers at once (it never waits)."""

    def __init__(self, settings: FlowSettings | None, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._settings = settings
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, updated

    @property
    def settings(self) -> FlowSettings | None:
        return self._settings

    def configure(self, settings: FlowSettings | None) -> None:
        """New limits (None: off); the buckets start full again."""
        with self._lock:
            self._settings = settings
            self._buckets.clear()

    def admit(self, region: str, action: str) -> bool:
        """Take a token from (region, action)'s bucket: False when there is none."""
        with self._lock:
            settings = self._settings
            if settings is None:
                return True
            now = self._clock()
            tokens, updated = self._buckets.get((region, action), (settings.burst, now))
            tokens = min(settings.burst, tokens + (now - updated) * settings.requests_per_second)
            admitted = tokens >= 1.0
            self._buckets[(region, action)] = (tokens - 1.0 if admitted else tokens, now)
            return admitted
