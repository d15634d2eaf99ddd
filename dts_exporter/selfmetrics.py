"""The exporter's own traffic: API requests, their durations, retries, credential refreshes
and unusable answer fields, counted with prometheus-client's Counter and Histogram.

They live for the process (a config reload keeps them) and are not registered anywhere:
the exposition places their families among its own, with samples in label order, no
`_created` series (as mysqld_exporter has none) and a family only once it has a sample.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric as Family

from dts_exporter.base.families import Metric
from dts_exporter.wire.flow import FlowControl

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

API_REQUESTS = Metric(
    "dts_exporter_api_requests",
    "DTS API requests by action and result code "
    "(Success, the service's code, or a transport code).",
    ("action", "code"),
    "counter",
)
API_DURATION = Metric(
    "dts_exporter_api_request_duration_seconds",
    "Duration of DTS API requests.",
    ("action",),
    "histogram",
)
API_RETRIES = Metric(
    "dts_exporter_api_retries",
    "Retries of DTS API calls, by action and the code of the failure that was retried.",
    ("action", "code"),
    "counter",
)
CREDENTIAL_REFRESHES = Metric(
    "dts_exporter_credential_refreshes",
    "Fetches of temporary credentials, by provider and result code.",
    ("provider", "code"),
    "counter",
)
RESPONSE_PROBLEMS = Metric(
    "dts_exporter_response_problems",
    "Fields in API answers that were present but unusable (wrong type, bad value) and skipped.",
    ("action",),
    "counter",
)
API_CALLS_STILL_RUNNING = Metric(
    "dts_exporter_api_calls_still_running",
    "Calls not made because the same action's call for the same id, abandoned by an "
    "earlier collection, was still running (the id reads Timeout).",
    ("action",),
    "counter",
)
LOG_LINES_SUPPRESSED = Metric(
    "dts_exporter_log_lines_suppressed",
    "Log lines not written because their kind was over its limit (reason=probe: failures "
    "and notes of probed ids beyond the lines a minute allowed).",
    ("reason",),
    "counter",
)
API_RATE_LIMIT = Metric(
    "dts_exporter_api_rate_limit_requests_per_second",
    "The rate the client-side flow control allows, per region and action, learnt from "
    "throttled answers (Throttling*); absent while the service has not throttled the action "
    "(calls limited only by concurrency and max_requests_per_second).",
    ("region", "action"),
)
METRICS = (
    API_REQUESTS,
    API_DURATION,
    API_RETRIES,
    CREDENTIAL_REFRESHES,
    RESPONSE_PROBLEMS,
    API_CALLS_STILL_RUNNING,
    LOG_LINES_SUPPRESSED,
)
# Why log lines may be suppressed (the `reason` label's values).
SUPPRESSION_REASONS = ("probe",)

_Instrument = Union[Counter, Histogram]  # noqa: UP007 - a runtime alias on Python 3.10


def _counter(metric: Metric) -> Counter:
    return Counter(metric.name, metric.help, metric.labels, registry=None)


class ApiStats:
    """Requests by (action, code), durations by action, retries, refreshes, problems."""

    def __init__(self, actions: Iterable[str] = ()) -> None:
        self._requests = _counter(API_REQUESTS)
        self._durations = Histogram(
            API_DURATION.name,
            API_DURATION.help,
            API_DURATION.labels,
            registry=None,
            buckets=DURATION_BUCKETS,
        )
        self._retries = _counter(API_RETRIES)
        self._refreshes = _counter(CREDENTIAL_REFRESHES)
        self._problems = _counter(RESPONSE_PROBLEMS)
        self._flow: FlowControl | None = None
        self._suppressed = _counter(LOG_LINES_SUPPRESSED)
        for reason in SUPPRESSION_REASONS:
            self._suppressed.labels(reason)
        self._still_running = _counter(API_CALLS_STILL_RUNNING)
        for action in actions:  # present from the start, so rate() works on the first change
            self._requests.labels(action, "Success")
            self._durations.labels(action)
            self._problems.labels(action)
            self._still_running.labels(action)

    def observe(self, action: str, code: str, seconds: float) -> None:
        self._requests.labels(action, code).inc()
        self._durations.labels(action).observe(seconds)

    def retry(self, action: str, code: str) -> None:
        self._retries.labels(action, code).inc()

    def refresh(self, provider: str, code: str) -> None:
        self._refreshes.labels(provider, code).inc()

    def still_running(self, action: str) -> None:
        self._still_running.labels(action).inc()

    def add_problems(self, action: str, count: int) -> None:
        self._problems.labels(action).inc(count)

    def suppressed(self, reason: str) -> None:
        """A log line of kind `reason` not written (over its limit)."""
        self._suppressed.labels(reason).inc()

    def traffic_families(self) -> list[Family]:
        """Requests, durations, retries and credential refreshes; the rates the flow control
        learnt."""
        return [
            *_families(
                self._requests, self._durations, self._retries, self._refreshes, self._still_running
            ),
            *self.rate_families(),
        ]

    def flow_control(self, ceiling: float) -> FlowControl:
        """The process's flow control (made on first use), with `ceiling` as its hard
        ceiling: a reload keeps the rates learnt and takes the new ceiling."""
        if self._flow is None:
            self._flow = FlowControl(ceiling)
        else:
            self._flow.set_ceiling(ceiling)
        return self._flow

    def rate_families(self) -> list[Family]:
        """The learnt rate of every (region, action) the service has throttled."""
        rates = self._flow.rates() if self._flow is not None else {}
        if not rates:
            return []
        family = GaugeMetricFamily(
            API_RATE_LIMIT.name, API_RATE_LIMIT.help, labels=API_RATE_LIMIT.labels
        )
        for (region, action), rate in sorted(rates.items()):
            family.add_metric([region, action], rate)
        return [family]

    def problem_families(self) -> list[Family]:
        """Unusable answer fields, and log lines suppressed."""
        return _families(self._problems, self._suppressed)

    def requests(self) -> dict[tuple[str, str], float]:
        """Requests so far by (action, code), for tests and benchmarks that count calls."""
        return {
            (sample.labels["action"], sample.labels["code"]): sample.value
            for family in self._requests.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }


def _families(*instruments: _Instrument) -> list[Family]:
    out: list[Family] = []
    for instrument in instruments:
        for family in instrument.collect():
            samples = [s for s in family.samples if not s.name.endswith("_created")]
            if not samples:
                continue
            # Children in label order (buckets stay in order: the sort is stable), so the
            # output does not depend on which label set was counted first.
            order = sorted(range(len(samples)), key=lambda i: _child(samples[i].labels))
            family.samples = [samples[i] for i in order]
            out.append(family)
    return out


def _child(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(value for name, value in labels.items() if name != "le")
