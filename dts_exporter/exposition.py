"""Snapshot -> metric families. Pure: no I/O, no clocks, easy to test and to benchmark.

Per monitored job: its info series, then each job-level action's health series and
families; then each modify task's; then the exporter's own. Each action module adds its
own families (see `dts_exporter.actions`); this module adds what every id has in common.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import Metric as Family

from dts_exporter import __version__, actions, selfmetrics
from dts_exporter.actions import dts_jobs
from dts_exporter.actions.job_state import JobState
from dts_exporter.base.families import DEFAULT_OPTIONS, Builder, Metric, Options
from dts_exporter.base.records import Result
from dts_exporter.config import JobConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot

ID = ("action", "job_id", "task_id")

UP = Metric(
    "dts_up",
    "1 when the last call(s) for the id succeeded; task_id is empty on job-level series.",
    ID,
)
JOB_INFO = Metric(
    "dts_job_info",
    "Monitored synchronization jobs; join on job_id for name, region, class, engines and "
    "the regions of both ends (from the job's state), and tag_<key> for tags_on_info.",
    (
        "job_id",
        "name",
        "region",
        "job_class",
        "source_engine",
        "source_region",
        "destination_engine",
        "destination_region",
    ),
)
LAST_REFRESH = Metric(
    "dts_last_refresh_timestamp_seconds",
    "When the values exported for the id were fetched; settled ids are re-checked only "
    "every settled_refresh_seconds.",
    ID,
)
LAST_SUCCESS = Metric(
    "dts_last_success_timestamp_seconds",
    "When the last call(s) for the id succeeded; with stale_seconds, a failing id keeps "
    "its last good values (and dts_up 0) while this is recent enough.",
    ID,
)
SETTLED_REUSED = Metric(
    "dts_exporter_settled_ids_reused",
    "Ids whose settled (Finished/Failed) data the last collection reused instead of calling.",
    (),
)
SCRAPE_DURATION = Metric(
    "dts_exporter_scrape_duration_seconds",
    "Wall time of the last collection of DTS data.",
    (),
)
BACKGROUND_COLLECTED = Metric(
    "dts_exporter_background_collection_timestamp_seconds",
    "With collection_interval_seconds: when the background collection scrapes are served "
    "finished; 0 until the first has (no DTS series until then). Absent when scrapes "
    "collect on demand.",
    (),
)
BUILD_INFO = Metric(
    "dts_exporter_build_info",
    "dts-exporter version.",
    ("version",),
)

# Every metric the exporter exposes; the README's metric reference is checked against it.
ALL_METRICS: tuple[Metric, ...] = (
    *(metric for action in actions.ALL for metric in action.metrics),
    UP,
    LAST_REFRESH,
    LAST_SUCCESS,
    JOB_INFO,
    *selfmetrics.METRICS[:4],
    selfmetrics.API_CALLS_STILL_RUNNING,
    selfmetrics.API_RATE_LIMIT,
    *dts_jobs.EXPORTER_METRICS,
    selfmetrics.RESPONSE_PROBLEMS,
    selfmetrics.LOG_LINES_SUPPRESSED,
    SETTLED_REUSED,
    SCRAPE_DURATION,
    BACKGROUND_COLLECTED,
    BUILD_INFO,
)

_STATE_ACTIONS = frozenset(action.name for action in actions.JOB_STATE)
_TAG_LABEL_RE = re.compile(r"[^A-Za-z0-9_]")


def build_families(
    snapshot: Snapshot, stats: ApiStats | None, options: Options = DEFAULT_OPTIONS
) -> list[Family]:
    """Every family for the snapshot; without `stats` (a probe), no exporter counters."""
    b = Builder()
    for unit in units(snapshot, options):
        unit.add(b)
    add_exporter(b, snapshot, stats)
    return noted(b.families(), options)


@dataclass(frozen=True)
class Unit:
    """One id's share of the exposition (a job's info series, or one result's series):
    what it is made from, and how to add it. Two units with the same key and the same
    inputs add the same samples; `dts_exporter.rendering` reuses their rendered lines."""

    key: tuple[str, ...]
    record: object  # the parsed answer, compared by identity
    inputs: tuple[object, ...]  # everything else it is made from, compared by equality
    add: Callable[[Builder], None]


def units(snapshot: Snapshot, options: Options = DEFAULT_OPTIONS) -> list[Unit]:
    """Per monitored job its info series and job-level results, then every task's, in
    the order of the exposition."""
    info = _info_metric(options.info_tags)
    by_job: dict[str, list[Result[Any]]] = {}
    task_results: list[Result[Any]] = []
    for result in snapshot.results:
        if result.target.task_id:
            task_results.append(result)
        else:
            by_job.setdefault(result.target.job_id, []).append(result)
    out: list[Unit] = []
    for job in snapshot.jobs:
        results = by_job.get(job.id, [])
        state = next((r.record for r in results if r.action in _STATE_ACTIONS and r.record), None)
        labels = _info(job, state, snapshot.region, options.info_tags)
        out.append(Unit(("info", job.id), None, (info, labels), partial(_add_info, info, labels)))
        out.extend(_result_unit(result, options) for result in results)
    out.extend(_result_unit(result, options) for result in task_results)
    return out


def _add_info(info: Metric, labels: tuple[str, ...], b: Builder) -> None:
    b.add(info, labels, 1.0)


def _result_unit(result: Result[Any], options: Options) -> Unit:
    inputs = (
        result.target,
        result.error is None,
        result.refreshed_at,
        result.last_success,
        options,
    )
    return Unit(("result", *result.key), result.record, inputs, partial(_result, result, options))


def noted(families: list[Family], options: Options) -> list[Family]:
    """The families with the options' HELP note (if any) appended to their HELP."""
    if options.note:
        for family in families:
            family.documentation = f"{family.documentation} {options.note}"
    return families


def _tag_label(key: str) -> str:
    """A tag key as a label name: tag_ and the key, anything but [A-Za-z0-9_] as _."""
    return f"tag_{_TAG_LABEL_RE.sub('_', key)}"


def _info_metric(tags: tuple[str, ...]) -> Metric:
    """dts_job_info with a tag_<key> label per tag key asked for (the first of keys that
    sanitize alike)."""
    labels = dict.fromkeys(_tag_label(key) for key in tags)
    return replace(JOB_INFO, labels=(*JOB_INFO.labels, *labels))


def _info(
    job: JobConfig, state: JobState | None, region: str, tags: tuple[str, ...]
) -> tuple[str, ...]:
    values = dict(state.tags) if state else {}
    chosen: dict[str, str] = {}  # per label, in the order of _info_metric's
    for key in tags:
        label = _tag_label(key)
        if not chosen.get(label):
            chosen[label] = values.get(key, "")
    return (
        job.id,
        job.name or (state.name if state else ""),
        job.region or region,
        state.job_class if state else "",
        state.source_engine if state else "",
        state.source_region if state else "",
        state.destination_engine if state else "",
        state.destination_region if state else "",
        *chosen.values(),
    )


def _result(result: Result[Any], options: Options, b: Builder) -> None:
    ids = (result.action, result.target.job_id, result.target.task_id)
    b.add(UP, ids, float(result.error is None))
    b.add(LAST_REFRESH, ids, result.refreshed_at)
    b.add(LAST_SUCCESS, ids, result.last_success)
    if result.record is not None:
        actions.BY_NAME[result.action].families(b, result.target, result.record, options)


def add_exporter(b: Builder, snapshot: Snapshot, stats: ApiStats | None) -> None:
    """The exporter's own series (the collection's, and with `stats` its counters)."""
    b.add(SCRAPE_DURATION, (), snapshot.duration_seconds)
    b.add(BACKGROUND_COLLECTED, (), snapshot.collected_at)
    if stats is None:
        return
    b.add(SETTLED_REUSED, (), float(snapshot.calls_saved))
    for family in stats.traffic_families():
        b.put(family)
    for region in snapshot.discovery:
        dts_jobs.region_families(b, region.region, region.jobs, region.last_success)
    for family in stats.problem_families():
        b.put(family)
    b.add(BUILD_INFO, (__version__,), 1.0)


def describe_families() -> Iterator[Family]:
    """Empty families for every declared metric: what `describe()` reports to a registry."""
    kinds = {
        "gauge": GaugeMetricFamily,
        "counter": CounterMetricFamily,
        "histogram": HistogramMetricFamily,
    }
    for metric in ALL_METRICS:
        yield kinds[metric.type](metric.name, metric.help, labels=metric.labels)


def with_note(options: Options, cache_seconds: float) -> Options:
    """The options with the HELP note that says values may come from a cache."""
    if cache_seconds <= 0:
        return options
    return replace(
        options, note=f"(Served from a cache of up to {cache_seconds:g}s: values may lag.)"
    )
