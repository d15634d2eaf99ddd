"""DescribeInitializationStatus's per-table series: the record, the metrics, lazy families.

Kept apart from `initialization` because it is the hot path: at 100k table series these
families are most of a scrape's work and memory, so their samples are made on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.samples import Sample, Timestamp

from dts_exporter.base.families import Metric


@dataclass(frozen=True)
class TableProgress:
    """One DataInitializationDetails entry."""

    source_db: str
    dest_db: str
    table: str
    status: str
    total_rows: float | None
    finished_rows: float | None
    used_time_seconds: float | None
    error_message: str

    @property
    def row_gap(self) -> float | None:
        if self.total_rows is None or self.finished_rows is None:
            return None
        return self.total_rows - self.finished_rows


TABLE = ("job_id", "source_db", "dest_db", "table")

EXPECTED_ROWS = Metric(
    "dts_data_initialization_expected_rows",
    "Rows DTS expects to copy for the table (TotalRowNum, from the source's statistics).",
    TABLE,
)
SYNCED_ROWS = Metric(
    "dts_data_initialization_synced_rows",
    "Rows DTS has copied for the table (FinishRowNum).",
    TABLE,
)
ROW_GAP = Metric(
    "dts_data_initialization_row_gap",
    "TotalRowNum minus FinishRowNum; negative when more rows were copied than estimated.",
    TABLE,
)
DURATION = Metric(
    "dts_data_initialization_duration_seconds",
    "Time DTS has spent on the table's data initialization (UsedTime, taken as seconds).",
    TABLE,
)
TABLE_STATUS = Metric(
    "dts_data_initialization_table_status",
    "1 for the table's current data initialization status.",
    (*TABLE, "status"),
)


def _status_one(table: TableProgress) -> float:
    return 1.0


# The per-table series: metric, and the value a table gives it (None: no series). Every
# metric here has the TABLE labels (TABLE_STATUS adds `status`): TableFamily writes the
# label names out for speed, and a test holds the declarations to that.
TABLE_SERIES: tuple[tuple[Metric, Callable[[TableProgress], float | None]], ...] = (
    (EXPECTED_ROWS, lambda t: t.total_rows),
    (SYNCED_ROWS, lambda t: t.finished_rows),
    (ROW_GAP, lambda t: t.row_gap),
    (DURATION, lambda t: t.used_time_seconds),
    (TABLE_STATUS, _status_one),
)


class TableFamily(GaugeMetricFamily):
    """A per-table gauge whose samples are made from the table records when read.

    The exposition reads each family's samples once, family after family: made on demand,
    the samples of only one family exist at a time, and none outlive the rendering. At
    100k table series that is most of the exporter's peak memory and garbage-collector
    work saved. Every read of `samples` makes a fresh, equal list.
    """

    def __init__(self, metric: Metric) -> None:
        self._added: list[Sample] = []
        self._parts: list[tuple[str, Sequence[TableProgress]]] = []
        self._read = dict(TABLE_SERIES)[metric]
        self._with_status = metric.labels == (*TABLE, "status")
        self._labels = metric.labels
        super().__init__(metric.name, metric.help, labels=metric.labels)

    def add_tables(self, job_id: str, tables: Sequence[TableProgress]) -> None:
        self._parts.append((job_id, tables))

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: Timestamp | float | None = None
    ) -> None:
        self._added.append(
            Sample(self.name, dict(zip(self._labels, labels, strict=True)), value, timestamp)
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
