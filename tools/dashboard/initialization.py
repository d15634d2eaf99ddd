"""The Data initialization row (rows copied per job and table) and the Structure
initialization row (schema objects and constraints)."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import DataTransformerConfig

from tools.dashboard.kit import (
    TABLE_STATUS_COLORS,
    Head,
    Q,
    Section,
    color_by_name,
    colored_text,
    organize,
    sel,
    threshold_property,
    thresholds,
)
from tools.dashboard.panels import bargauge, table, timeseries

DB_COLUMNS = {"source_db": "source db", "dest_db": "destination db"}


def data_initialization() -> Section:
    migrating = sel("dts_data_initialization_table_status", 'status="Migrating"')
    return Section(
        8,
        "Data initialization",
        [
            timeseries(
                Head(
                    9,
                    "Expected and synced rows",
                    "Rows DTS expects to copy (dashed) and rows copied so far, per job. The gap "
                    "closing is the job's data initialization progressing.",
                    (12, 8),
                ),
                [
                    Q(
                        f"sum by (job_id) ({sel('dts_data_initialization_expected_rows')})",
                        "{{job_id}} expected",
                    ),
                    Q(
                        f"sum by (job_id) ({sel('dts_data_initialization_synced_rows')})",
                        "{{job_id}} synced",
                    ),
                ],
                unit="short",
                calcs=["lastNotNull"],
                fill=0,
                dashed_query="A",
            ),
            timeseries(
                Head(
                    10,
                    "Row gap",
                    "Rows still to copy per job (tables with more rows copied than estimated "
                    "count as 0). A flat line above 0 while tables are Migrating means the copy "
                    "is stuck.",
                    (12, 8),
                ),
                [Q(sel("job_id:dts_data_initialization_remaining_rows:sum"), "{{job_id}}")],
                unit="short",
                calcs=["lastNotNull"],
            ),
            timeseries(
                Head(
                    11,
                    "Rows copied per second",
                    "Copy speed per job (5-minute derivative of rows copied). Zero while tables "
                    "are Migrating means the copy stalled.",
                    (8, 8),
                ),
                [Q(sel("job_id:dts_data_initialization_synced_rows:deriv5m"), "{{job_id}}")],
                unit="short",
                calcs=[],
            ),
            bargauge(
                Head(
                    12,
                    "Progress per job",
                    "Share of each job's expected rows already copied (capped at 100%).",
                    (8, 8),
                ),
                [Q(sel("job_id:dts_data_initialization_progress:ratio"), "{{job_id}}")],
                unit="percentunit",
                steps=thresholds("blue", (1, "green")),
                maximum=1,
                decimals=1,
            ),
            bargauge(
                Head(
                    13,
                    "Estimated time left",
                    "Rows left divided by the current copy speed, per job; absent while nothing "
                    "is being copied. Plan cut-overs with it, not against it.",
                    (8, 8),
                ),
                [Q(sel("job_id:dts_data_initialization_eta:seconds"), "{{job_id}}")],
                unit="s",
                steps=thresholds("green", (3600, "orange"), (86400, "red")),
            ),
            table(
                Head(
                    14,
                    "Slowest tables",
                    "The ten Migrating tables with the most rows left to copy. Large tables that "
                    "stay here for long may need their source indexes or DTS instance class "
                    "checked.",
                    (14, 9),
                ),
                f"topk(10, {sel('dts_data_initialization_row_gap')} and on "
                f"(job, instance, job_id, source_db, dest_db, table) {migrating} == 1)",
                organize(
                    ["job_id", "source_db", "dest_db", "table", "Value"],
                    {"Value": "rows left", **DB_COLUMNS},
                ),
                unit="short",
                sort_desc="rows left",
            ),
            table(
                Head(
                    15,
                    "Failed tables",
                    "Tables whose data initialization reports an error, with the error code. "
                    "The full DTS message is in the exporter's log (grep the table name).",
                    (10, 9),
                ),
                sel("dts_data_initialization_table_error") + " == 1",
                organize(
                    ["job_id", "source_db", "table", "code", "dest_db"], DB_COLUMNS, hide_value=True
                ),
            ),
        ],
    )


def structure_initialization() -> Section:
    return Section(
        16,
        "Structure initialization",
        [
            table(
                Head(
                    17,
                    "Schema objects by type and status",
                    "Schema objects of the selected jobs per type (rows) and status (columns). A "
                    "non-zero Failed column is explained by the failed objects table.",
                    (9, 9),
                ),
                f"sum by (object_type, status) ({sel('dts_structure_initialization_objects')})",
                DataTransformerConfig(
                    id_val="groupingToMatrix",
                    options={
                        "columnField": "status",
                        "rowField": "object_type",
                        "valueField": "Value",
                        "emptyValue": "zero",
                    },
                ),
                unit="short",
                overrides=[("Failed", [threshold_property("green", (1, "red")), colored_text()])],
            ),
            table(
                Head(
                    18,
                    "Failed schema objects",
                    "Schema objects and constraints that failed to be created at the "
                    "destination, with the error code. Fix the object at the destination (or "
                    "exclude it) and restart the job.",
                    (10, 9),
                ),
                sel("dts_structure_initialization_object_error") + " == 1",
                organize(
                    ["job_id", "source_db", "object_type", "object", "code", "dest_db"],
                    {**DB_COLUMNS, "object_type": "type"},
                    hide_value=True,
                ),
            ),
            bargauge(
                Head(
                    19,
                    "Constraints by status",
                    "Constraints (indexes, keys) nested under tables, per status. They are "
                    "created after the data is copied; Failed ones appear in the failed objects "
                    "table.",
                    (5, 9),
                ),
                [
                    Q(
                        f"sum by (status) ({sel('dts_structure_initialization_constraints')})",
                        "{{status}}",
                    )
                ],
                unit="short",
                color="blue",
                decimals=0,
                overrides=color_by_name(TABLE_STATUS_COLORS),
            ),
        ],
    )
