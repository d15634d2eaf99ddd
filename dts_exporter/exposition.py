"""Snapshot -> metric families. Pure: no I/O, no clocks, easy to test and to benchmark."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as Family,
)
from prometheus_client.samples import Sample, Timestamp

from dts_exporter import __version__
from dts_exporter import metrics as m
from dts_exporter.api_stats import ApiStats
from dts_exporter.parsing import (
    OBJECT_STATUSES,
    TASK_STATUSES,
    InitializationStatus,
    ModifyStatus,
    Stage,
    TableProgress,
    error_code,
)
from dts_exporter.snapshot import Snapshot
from dts_exporter.wire.client import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS

PRECHECK_CHECK_STATUSES = ("Success", "Failed")

# _TableFamily writes these label names out: they must be what the metrics declare.
assert m.TABLE == ("job_id", "source_db", "dest_db", "table")
assert all(metric.labels == m.TABLE and metric.type == "gauge" for metric, _ in m.TABLE_VALUES)
assert m.TABLE_STATUS.labels == (*m.TABLE, "status") and m.TABLE_STATUS.type == "gauge"


def _status_one(table: TableProgress) -> float:
    return 1.0


# The per-table series: metric, and the value a table gives it (None: no series).
_TABLE_SERIES: tuple[tuple[m.Metric, Callable[[TableProgress], float | None]], ...] = (
    *m.TABLE_VALUES,
    (m.TABLE_STATUS, _status_one),
)


class _TableFamily(GaugeMetricFamily):
    """A per-table gauge whose samples are made from the table records when read.

    The exposition reads each family's samples once, family after family: made on demand,
    the samples of only one family exist at a time, and none outlive the rendering. At
    100k table series that is most of the exporter's peak memory and garbage-collector
    work saved. Every read of `samples` makes a fresh, equal list.
    """

    def __init__(self, metric: m.Metric) -> None:
        self._added: list[Sample] = []
        self._parts: list[tuple[str, Sequence[TableProgress]]] = []
        self._read = dict(_TABLE_SERIES)[metric]
        self._with_status = metric.labels == (*m.TABLE, "status")
        super().__init__(metric.name, metric.help, labels=metric.labels)

    def add_tables(self, job_id: str, tables: Sequence[TableProgress]) -> None:
        self._parts.append((job_id, tables))

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: Timestamp | float | None = None
    ) -> None:
        self._added.append(
            Sample(self.name, dict(zip(self._labelnames, labels, strict=False)), value, timestamp)
        )

    @property
    def samples(self) -> list[Sample]:
        out = list(self._added)
        name, read, with_status = self.name, self._read, self._with_status
        for job_id, tables in self._parts:
            for t in tables:
                value = read(t)
                if value is None:
                    continue
                if with_status:
                    labels = {
                        "job_id": job_id,
                        "source_db": t.source_db,
                        "dest_db": t.dest_db,
                        "table": t.table,
                        "status": t.status,
                    }
                else:
                    labels = {
                        "job_id": job_id,
                        "source_db": t.source_db,
                        "dest_db": t.dest_db,
                        "table": t.table,
                    }
                out.append(Sample(name, labels, value))
        return out

    @samples.setter
    def samples(self, value: list[Sample]) -> None:  # Metric.__init__ sets []
        self._added = list(value)


class _Builder:
    """Collects samples per declared metric and builds one family each."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def family(self, metric: m.Metric) -> Family:
        fam = self._families.get(metric.name)
        if fam is None:
            if metric.type == "counter":
                fam = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            elif metric.type == "histogram":
                fam = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
            else:
                fam = GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
            self._families[metric.name] = fam
        return fam

    def add(self, metric: m.Metric, labels: Sequence[str], value: float | None) -> None:
        if value is None:  # a missing field produces no series, never an invented 0
            return
        fam = self.family(metric)
        assert isinstance(fam, (GaugeMetricFamily, CounterMetricFamily))
        fam.add_metric(list(labels), value)

    def created(self) -> dict[str, Family]:
        return self._families

    def table_family(self, metric: m.Metric) -> _TableFamily:
        fam = self._families.get(metric.name)
        if fam is None:
            fam = self._families[metric.name] = _TableFamily(metric)
        assert isinstance(fam, _TableFamily)
        return fam

    def counts(
        self,
        metric: m.Metric,
        prefix: Sequence[str],
        values: Iterable[str],
        always: Sequence[str],
    ) -> None:
        tally = Counter(values)
        for status in always:
            tally.setdefault(status, 0)
        for status in sorted(tally):
            self.add(metric, (*prefix, status), float(tally[status]))

    def families(self) -> list[Family]:
        return list(self._families.values())


@dataclass(frozen=True)
class Options:
    """How much to expose: per-table series selection and the HELP note for caching."""

    table_metrics: str = "all"  # all | unfinished | none
    max_table_series_per_job: int = 0  # 0: no cap
    note: str = ""


DEFAULT_OPTIONS = Options()


def build_families(
    snapshot: Snapshot, stats: ApiStats | None, options: Options = DEFAULT_OPTIONS
) -> list[Family]:
    """Every family for the snapshot; without `stats` (a probe), no exporter counters."""
    b = _Builder()
    details = {found.job_id: found for found in snapshot.discovered}
    for job in snapshot.jobs:
        found = details.get(job.job.id)
        info = (
            job.job.id,
            job.job.name or (found.name if found else ""),
            job.job.region or snapshot.region,
            found.status if found else "",
            found.source_engine if found else "",
            found.destination_engine if found else "",
        )
        b.add(m.JOB_INFO, info, 1.0)
        if found is not None:
            b.add(m.JOB_DELAY, (job.job.id,), found.delay_seconds)
            b.add(m.JOB_CHECKPOINT, (job.job.id,), found.checkpoint_timestamp)
        b.add(m.UP, (DESCRIBE_INITIALIZATION_STATUS, job.job.id, ""), float(job.error is None))
        b.add(m.LAST_REFRESH, (DESCRIBE_INITIALIZATION_STATUS, job.job.id, ""), job.refreshed_at)
        b.add(m.LAST_SUCCESS, (DESCRIBE_INITIALIZATION_STATUS, job.job.id, ""), job.last_success)
        if job.status is not None:
            _initialization(b, job.job.id, job.status, options)
    for task in snapshot.tasks:
        ids = (task.job_id, task.task_id)
        b.add(m.UP, (DESCRIBE_MODIFY_STATUS, *ids), float(task.error is None))
        b.add(m.LAST_REFRESH, (DESCRIBE_MODIFY_STATUS, *ids), task.refreshed_at)
        b.add(m.LAST_SUCCESS, (DESCRIBE_MODIFY_STATUS, *ids), task.last_success)
        if task.status is not None:
            _modify(b, ids, task.status)
    _exporter(b, snapshot, stats)
    families = b.families()
    if options.note:
        for family in families:
            family.documentation = f"{family.documentation} {options.note}"
    return families


def select_tables(
    tables: Sequence[TableProgress], table_metrics: str, cap: int
) -> tuple[list[TableProgress], int, int]:
    """The tables that get per-table series, and how many were filtered and capped.

    The cap keeps the tables with the largest row gaps (those with no gap last); the
    chosen tables keep the order the API listed them in.
    """
    if table_metrics == "none":
        return [], len(tables), 0
    chosen = [t for t in tables if table_metrics == "all" or t.status != "Finished"]
    filtered = len(tables) - len(chosen)
    if cap <= 0 or len(chosen) <= cap:
        return chosen, filtered, 0
    gap = m.row_gap
    ranked = sorted(
        range(len(chosen)), key=lambda i: (gap(chosen[i]) is None, -(gap(chosen[i]) or 0.0), i)
    )
    keep = sorted(ranked[:cap])
    return [chosen[i] for i in keep], filtered, len(chosen) - cap


def describe_families() -> Iterator[Family]:
    """Empty families for every declared metric: what `describe()` reports to a registry."""
    b = _Builder()
    for metric in m.ALL_METRICS:
        b.family(metric)
    yield from b.families()


def _initialization(
    b: _Builder, job_id: str, status: InitializationStatus, options: Options
) -> None:
    tables, filtered, capped = select_tables(
        status.tables, options.table_metrics, options.max_table_series_per_job
    )
    b.add(m.TABLE_SERIES_OMITTED, (job_id, "filtered"), float(filtered))
    b.add(m.TABLE_SERIES_OMITTED, (job_id, "capped"), float(capped))
    # Per-table series are made when the exposition reads them (see _TableFamily). The
    # families are created here, in the order eager adds would create them (the first table
    # with a value creates a metric's family); table errors are few and added as usual.
    pending = [(metric, read) for metric, read in _TABLE_SERIES if metric.name not in b.created()]
    for table in tables:
        if pending:
            for metric, read in list(pending):
                if read(table) is not None:
                    b.table_family(metric)
                    pending.remove((metric, read))
        if table.error_message:
            labels = (job_id, table.source_db, table.dest_db, table.table)
            b.add(m.TABLE_ERROR, (*labels, error_code(table.error_message)), 1.0)
    for metric, _ in _TABLE_SERIES:
        if metric.name in b.created():
            b.table_family(metric).add_tables(job_id, tables)
    b.counts(m.TABLES, (job_id,), (t.status for t in status.tables), OBJECT_STATUSES)

    by_type: dict[str, list[str]] = {}
    constraints: list[str] = []
    for obj in status.structure:
        by_type.setdefault(obj.object_type, []).append(obj.status)
        for item in (obj, *obj.constraints):
            if item.error_message:
                b.add(
                    m.OBJECT_ERROR,
                    (
                        job_id,
                        item.source_db,
                        item.dest_db,
                        item.object_type,
                        item.object_name,
                        error_code(item.error_message),
                    ),
                    1.0,
                )
        constraints.extend(c.status for c in obj.constraints)
    for object_type in sorted(by_type):
        b.counts(m.OBJECTS, (job_id, object_type), by_type[object_type], OBJECT_STATUSES)
    b.counts(m.CONSTRAINTS, (job_id,), constraints, OBJECT_STATUSES)

    if status.synchronization is not None:
        b.counts(
            m.SYNC_TABLES, (job_id,), (d.status for d in status.synchronization), OBJECT_STATUSES
        )


def _modify(b: _Builder, ids: tuple[str, str], status: ModifyStatus) -> None:
    if status.status is not None:
        for value in sorted({*TASK_STATUSES, status.status}):
            b.add(m.TASK_STATUS, (*ids, value), float(value == status.status))
    if status.error_message:
        b.add(m.STAGE_ERROR, (*ids, "task", error_code(status.error_message)), 1.0)

    stages: tuple[Stage | None, ...] = (
        status.precheck,
        status.structure_initialization,
        status.data_initialization,
        status.data_synchronization,
    )
    for name, stage in zip(m.STAGES, stages, strict=True):
        if stage is None:
            continue
        if stage.status is not None:
            for value in sorted({*OBJECT_STATUSES, stage.status}):
                b.add(m.STAGE_STATUS, (*ids, name, value), float(value == stage.status))
        b.add(
            m.STAGE_PROGRESS, (*ids, name), None if stage.percent is None else stage.percent / 100
        )
        if stage.error_message:
            b.add(m.STAGE_ERROR, (*ids, name, error_code(stage.error_message)), 1.0)

    if status.structure_initialization is not None:
        b.add(m.STRUCTURE_PROGRESS, ids, status.structure_initialization.progress)
    if status.data_initialization is not None:
        b.add(m.DATA_PROGRESS, ids, status.data_initialization.progress)
    if status.data_synchronization is not None:
        b.add(m.DELAY, ids, status.data_synchronization.delay_seconds)

    for item in status.precheck_items:
        b.add(m.PRECHECK_ITEM, (*ids, item.name), float(item.check_status == "Success"))
    if status.precheck is not None or status.precheck_items:
        b.counts(
            m.PRECHECK_ITEMS,
            ids,
            (item.check_status for item in status.precheck_items),
            PRECHECK_CHECK_STATUSES,
        )


def _exporter(b: _Builder, snapshot: Snapshot, stats: ApiStats | None) -> None:
    b.add(m.SCRAPE_DURATION, (), snapshot.duration_seconds)
    if stats is None:
        return
    b.add(m.SETTLED_REUSED, (), float(snapshot.calls_saved))
    for (action, code), count in sorted(stats.requests().items()):
        b.add(m.API_REQUESTS, (action, code), float(count))
    durations = b.family(m.API_DURATION)
    assert isinstance(durations, HistogramMetricFamily)
    for action, (buckets, total) in sorted(stats.durations().items()):
        durations.add_metric([action], buckets, total)
    for (action, code), count in sorted(stats.retries().items()):
        b.add(m.API_RETRIES, (action, code), float(count))
    for (provider, code), count in sorted(stats.refreshes().items()):
        b.add(m.CREDENTIAL_REFRESHES, (provider, code), float(count))
    for region in snapshot.discovery:
        b.add(m.DISCOVERED_JOBS, (region.region,), float(region.jobs))
        b.add(m.DISCOVERY_SUCCESS, (region.region,), region.last_success)
    for action, count in sorted(stats.problems().items()):
        b.add(m.RESPONSE_PROBLEMS, (action,), float(count))
    b.add(m.BUILD_INFO, (__version__,), 1.0)
