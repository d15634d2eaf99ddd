"""Metrics declared as data, and the builder that turns values into metric families.

Every action module declares its metrics with `Metric` and adds values through a `Builder`;
the exposition walks the actions in order, so a family's place in the output is where its
first value was added, exactly as if the families had been written by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric as Family

MetricType = Literal["gauge", "counter", "histogram"]
TableMetrics = Literal["all", "unfinished", "none"]


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    labels: tuple[str, ...]
    type: MetricType = "gauge"


@dataclass(frozen=True)
class Options:
    """How much to expose: per-table series selection and the HELP note for caching."""

    table_metrics: TableMetrics = "all"
    max_table_series_per_job: int = 0  # 0: no cap
    info_tags: tuple[str, ...] = ()  # tag keys that label dts_job_info
    note: str = ""


DEFAULT_OPTIONS = Options()


class Builder:
    """Collects samples per declared metric and builds one family each, in first-use order."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def family(self, metric: Metric) -> Family:
        """The metric's family, created empty (a gauge) on first use."""
        fam = self._families.get(metric.name)
        if fam is None:
            fam = self._families[metric.name] = GaugeMetricFamily(
                metric.name, metric.help, labels=metric.labels
            )
        return fam

    def add(self, metric: Metric, labels: Sequence[str], value: float | None) -> None:
        if value is None:  # a missing field produces no series, never an invented 0
            return
        fam = self.family(metric)
        if not isinstance(fam, GaugeMetricFamily):
            raise TypeError(f"{metric.name} is not built from added values")
        fam.add_metric(list(labels), value)

    def has(self, metric: Metric) -> bool:
        return metric.name in self._families

    def get(self, metric: Metric) -> Family | None:
        return self._families.get(metric.name)

    def put(self, family: Family) -> None:
        """A family built elsewhere (a counter's, a lazily rendered one), in this place."""
        self._families[family.name] = family

    def counts(
        self,
        metric: Metric,
        prefix: Sequence[str],
        values: Iterable[str],
        always: Sequence[str],
    ) -> None:
        """One series per value seen, counting it; the `always` values are present as 0."""
        tally = Counter(values)
        for status in always:
            tally.setdefault(status, 0)
        for status in sorted(tally):
            self.add(metric, (*prefix, status), float(tally[status]))

    def state_set(
        self, metric: Metric, prefix: Sequence[str], current: str, documented: Iterable[str]
    ) -> None:
        """1 for the current value, 0 for every other documented one; an unknown current
        value is kept as its own series."""
        for value in sorted({*documented, current}):
            self.add(metric, (*prefix, value), float(value == current))

    def families(self) -> list[Family]:
        return list(self._families.values())
