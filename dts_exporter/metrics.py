"""Every metric the exporter exposes, declared as data.

The exposition layer walks these declarations; the README's metric reference is checked
against `ALL_METRICS` by a test, so documentation and code cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dts_exporter.parsing import TableProgress

MetricType = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    labels: tuple[str, ...]
    type: MetricType = "gauge"


TABLE = ("job_id", "source_db", "dest_db", "table")
TASK = ("job_id", "task_id")

# -- DescribeInitializationStatus: data initialization, per table ---------------------------
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
TABLE_ERROR = Metric(
    "dts_data_initialization_table_error",
    "1 for a table whose data initialization reports an error; code is DTS-nnnn, "
    "a Java exception class or Other.",
    (*TABLE, "code"),
)
TABLE_SERIES_OMITTED = Metric(
    "dts_data_initialization_table_series_omitted",
    "Tables of the job without per-table series: reason=filtered by table_metrics, "
    "reason=capped by max_table_series_per_job (the largest row gaps are kept).",
    ("job_id", "reason"),
)
TABLES = Metric(
    "dts_data_initialization_tables",
    "Tables per data initialization status "
    "(NotStarted, Migrating, Failed, Finished always present).",
    ("job_id", "status"),
)

# -- DescribeInitializationStatus: structure initialization and synchronization -------------
OBJECTS = Metric(
    "dts_structure_initialization_objects",
    "Schema objects per type and status; the four statuses are present for every type seen.",
    ("job_id", "object_type", "status"),
)
CONSTRAINTS = Metric(
    "dts_structure_initialization_constraints",
    "Constraints nested under Table objects, per status (four statuses always present).",
    ("job_id", "status"),
)
OBJECT_ERROR = Metric(
    "dts_structure_initialization_object_error",
    "1 for a schema object or constraint that reports an error; code as for tables.",
    ("job_id", "source_db", "dest_db", "object_type", "object", "code"),
)
SYNC_TABLES = Metric(
    "dts_data_synchronization_tables",
    "DataSynchronizationDetails entries per status, when the service still returns them.",
    ("job_id", "status"),
)

# -- DescribeSynchronizationObjectModifyStatus ----------------------------------------------
TASK_STATUS = Metric(
    "dts_modify_task_status",
    "1 for the modify task's current Status, 0 for each other documented value.",
    (*TASK, "status"),
)
STAGE_STATUS = Metric(
    "dts_modify_stage_status",
    "1 for a stage's current status, 0 for the other documented stage statuses.",
    (*TASK, "stage", "status"),
)
STAGE_PROGRESS = Metric(
    "dts_modify_stage_progress_ratio",
    "A stage's progress, 0 to 1 (Percent / 100).",
    (*TASK, "stage"),
)
STAGE_ERROR = Metric(
    "dts_modify_stage_error",
    "1 for a stage (or stage=task, the task itself) reporting an error; code as for tables.",
    (*TASK, "stage", "code"),
)
STRUCTURE_PROGRESS = Metric(
    "dts_modify_structure_initialization_tables",
    "Tables whose schema the modify task has synchronized "
    "(StructureInitializationStatus.Progress).",
    TASK,
)
DATA_PROGRESS = Metric(
    "dts_modify_data_initialization_rows",
    "Rows the modify task has copied during data initialization "
    "(DataInitializationStatus.Progress).",
    TASK,
)
DELAY = Metric(
    "dts_modify_data_synchronization_delay_seconds",
    "Incremental synchronization delay of the modify task (DataSynchronizationStatus.Delay).",
    TASK,
)
PRECHECK_ITEM = Metric(
    "dts_modify_precheck_item_success",
    "1 when the precheck item's CheckStatus is Success, else 0.",
    (*TASK, "item"),
)
PRECHECK_ITEMS = Metric(
    "dts_modify_precheck_items",
    "Precheck items per CheckStatus (Success and Failed always present).",
    (*TASK, "check_status"),
)

# -- health and metadata ---------------------------------------------------------------------
UP = Metric(
    "dts_up",
    "1 when the last call(s) for the id succeeded; task_id is empty on job-level series.",
    ("action", "job_id", "task_id"),
)
JOB_INFO = Metric(
    "dts_job_info",
    "Monitored synchronization jobs; join on job_id for name, region, and (for discovered "
    "jobs) status and engines.",
    ("job_id", "name", "region", "status", "source_engine", "destination_engine"),
)
LAST_REFRESH = Metric(
    "dts_last_refresh_timestamp_seconds",
    "When the values exported for the id were fetched; settled ids are re-checked only "
    "every settled_refresh_seconds.",
    ("action", "job_id", "task_id"),
)
LAST_SUCCESS = Metric(
    "dts_last_success_timestamp_seconds",
    "When the last call(s) for the id succeeded; with stale_seconds, a failing id keeps "
    "its last good values (and dts_up 0) while this is recent enough.",
    ("action", "job_id", "task_id"),
)
JOB_DELAY = Metric(
    "dts_job_delay_seconds",
    "Synchronization delay DescribeDtsJobs reports for a discovered job (as of its last refresh).",
    ("job_id",),
)
JOB_CHECKPOINT = Metric(
    "dts_job_checkpoint_timestamp_seconds",
    "The point in time a discovered job has synchronized up to (DescribeDtsJobs Checkpoint).",
    ("job_id",),
)

# -- the exporter itself ------------------------------------------------------------------------
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
DISCOVERED_JOBS = Metric(
    "dts_exporter_discovered_jobs",
    "Synchronization jobs discovery currently lists per region (after name_pattern).",
    ("region",),
)
DISCOVERY_SUCCESS = Metric(
    "dts_exporter_discovery_last_success_timestamp_seconds",
    "When discovery last listed a region's jobs successfully.",
    ("region",),
)
RESPONSE_PROBLEMS = Metric(
    "dts_exporter_response_problems",
    "Fields in API answers that were present but unusable (wrong type, bad value) and skipped.",
    ("action",),
    "counter",
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
BUILD_INFO = Metric(
    "dts_exporter_build_info",
    "dts-exporter version.",
    ("version",),
)

ALL_METRICS: tuple[Metric, ...] = (
    EXPECTED_ROWS,
    SYNCED_ROWS,
    ROW_GAP,
    DURATION,
    TABLE_STATUS,
    TABLE_ERROR,
    TABLE_SERIES_OMITTED,
    TABLES,
    OBJECTS,
    CONSTRAINTS,
    OBJECT_ERROR,
    SYNC_TABLES,
    TASK_STATUS,
    STAGE_STATUS,
    STAGE_PROGRESS,
    STAGE_ERROR,
    STRUCTURE_PROGRESS,
    DATA_PROGRESS,
    DELAY,
    PRECHECK_ITEM,
    PRECHECK_ITEMS,
    UP,
    LAST_REFRESH,
    LAST_SUCCESS,
    JOB_INFO,
    JOB_DELAY,
    JOB_CHECKPOINT,
    API_REQUESTS,
    API_DURATION,
    API_RETRIES,
    CREDENTIAL_REFRESHES,
    DISCOVERED_JOBS,
    DISCOVERY_SUCCESS,
    RESPONSE_PROBLEMS,
    SETTLED_REUSED,
    SCRAPE_DURATION,
    BUILD_INFO,
)


def row_gap(table: TableProgress) -> float | None:
    if table.total_rows is None or table.finished_rows is None:
        return None
    return table.total_rows - table.finished_rows


# Per-table numeric values: which metric, and how the value is read from a table record.
TABLE_VALUES: tuple[tuple[Metric, Callable[[TableProgress], float | None]], ...] = (
    (EXPECTED_ROWS, lambda t: t.total_rows),
    (SYNCED_ROWS, lambda t: t.finished_rows),
    (ROW_GAP, row_gap),
    (DURATION, lambda t: t.used_time_seconds),
)

# Stages of a modify task, in order, with the label value each gets.
STAGES = ("precheck", "structure_initialization", "data_initialization", "data_synchronization")
