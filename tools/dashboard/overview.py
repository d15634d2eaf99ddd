"""The Overview row (is anything wrong right now) and the Job overview row (each job's health
from DescribeDtsJobs and DescribeCheckJobs)."""

from __future__ import annotations

from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueTextMode

from tools.dashboard.kit import (
    MODIFY_TASK_STATUSES,
    TABLE_STATUS_COLORS,
    Head,
    Q,
    Section,
    color_by_name,
    colored_text,
    mappings_property,
    named,
    organize,
    sel,
    status_codes,
    status_map,
    threshold_property,
    thresholds,
    value_map,
)
from tools.dashboard.panels import bargauge, stat, state_timeline, table, timeseries

# DescribeDtsJobs statuses, coloured: green running, blue a normal transition, orange not
# running, red failed. The timeline shows each as its position here (0: any other status).
JOB_STATUSES = [
    ("NotStarted", "text"),
    ("NotConfigured", "text"),
    ("Prechecking", "blue"),
    ("PreCheckPass", "blue"),
    ("PrecheckFailed", "red"),
    ("Initializing", "blue"),
    ("InitializeFailed", "red"),
    ("Synchronizing", "green"),
    ("Suspending", "orange"),
    ("Retrying", "orange"),
    ("Modifying", "blue"),
    ("ModifyFailed", "red"),
    ("Upgrade", "blue"),
    ("Downgrade", "blue"),
    ("Locked", "red"),
    ("Failed", "red"),
    ("Finished", "green"),
]


def _coded(statuses: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Value mapping entries of a status timeline: 0 is Other, then each status's code."""
    return [("0", "Other", "purple")] + [
        (str(code), status, color) for code, (status, color) in enumerate(statuses, 1)
    ]


def _failures() -> str:
    failed, task_failed = 'status="Failed"', 'status=~"Failed|PrecheckFailed"'
    either = " or ".join(
        [
            sel("dts_data_initialization_tables", failed),
            sel("dts_structure_initialization_objects", failed),
            sel("dts_modify_task_status", task_failed),
        ]
    )
    return f"sum({either}) + sum({sel('dts_structure_initialization_constraints', failed)})"


def overview() -> Section:
    readable = sel("dts_up", 'action="DescribeInitializationStatus"')
    synced = sel("dts_data_initialization_synced_rows")
    expected = sel("dts_data_initialization_expected_rows")
    return Section(
        1,
        "Overview",
        [
            stat(
                Head(
                    2,
                    "Jobs readable",
                    "Synchronization jobs whose DescribeInitializationStatus call succeeded on "
                    "the last scrape, out of those configured. Fewer readable than configured: "
                    "see Exporter health.",
                    (4, 5),
                ),
                [Q(f"sum({readable})", "readable"), Q(f"count({readable})", "configured")],
                unit="short",
                steps=thresholds("red", (1, "green")),
                text_mode=BigValueTextMode.VALUE_AND_NAME,
                overrides=color_by_name({"configured": "text"}),
            ),
            stat(
                Head(
                    3,
                    "Data initialization progress",
                    "Rows copied out of rows expected, over all selected jobs (capped at 100%: "
                    "expected rows come from the source's statistics). Per job in the Data "
                    "initialization row.",
                    (4, 5),
                ),
                [Q(f"clamp_max(sum({synced}) / sum({expected}), 1)", "progress")],
                unit="percentunit",
                steps=thresholds("blue", (1, "green")),
                minimum=0,
                maximum=1,
                decimals=1,
            ),
            stat(
                Head(
                    4,
                    "Failures now",
                    "Failed tables, failed schema objects and constraints, and modify tasks "
                    "that failed or failed their precheck. Anything above 0 needs a look: the "
                    "tables below name them.",
                    (4, 5),
                ),
                [Q(_failures(), "failures")],
                unit="short",
                steps=thresholds("green", (1, "red")),
                color_mode=BigValueColorMode.BACKGROUND,
                decimals=0,
            ),
            bargauge(
                Head(
                    5,
                    "Tables by status",
                    "Tables of the selected jobs per data initialization status. Failed tables "
                    "are listed under Data initialization with their error code.",
                    (12, 5),
                ),
                [
                    Q(
                        f"sum by (status) ({sel('dts_data_initialization_tables')})",
                        "{{status}}",
                    )
                ],
                unit="short",
                color="blue",
                vertical=True,
                decimals=0,
                overrides=color_by_name(TABLE_STATUS_COLORS),
            ),
            state_timeline(
                Head(
                    6,
                    "Modify task status",
                    "Status of each modify task over time, per job. PrecheckFailed or Failed "
                    "needs action: see the precheck items and stage errors under Modify tasks.",
                    (12, 8),
                ),
                [
                    Q(
                        named(
                            status_codes(
                                "dts_modify_task_status",
                                [status for status, _ in MODIFY_TASK_STATUSES],
                                "job, instance, job_id, task_id",
                            )
                        ),
                        "{{name}} {{task_id}}",
                    )
                ],
                mapping=value_map(_coded(MODIFY_TASK_STATUSES)),
            ),
            timeseries(
                Head(
                    7,
                    "Synchronization delay",
                    "Incremental synchronization delay, the largest per job. A delay that keeps "
                    "growing means the destination falls behind the source.",
                    (12, 8),
                ),
                [
                    Q(
                        named(
                            "max by (job, instance, job_id) "
                            f"({sel('dts_modify_data_synchronization_delay_seconds')})"
                        ),
                        "{{name}}",
                    )
                ],
                unit="s",
                steps=thresholds("green", (60, "orange"), (300, "red")),
            ),
        ],
    )


def job_overview() -> Section:
    def per_job(metric: str) -> list[Q]:
        return [Q(named(sel(metric)), "{{name}}")]

    return Section(
        33,
        "Job overview",
        [
            state_timeline(
                Head(
                    34,
                    "Job status",
                    "Status of each synchronization job over time (DescribeDtsJobs). Green is "
                    "running, blue a normal transition, orange not running (Suspending, "
                    "Retrying), red failed; Other is a status this dashboard does not know. "
                    "Alerts: DtsJobFailed, DtsJobNotRunning.",
                    (12, 8),
                ),
                [
                    Q(
                        named(
                            status_codes(
                                "dts_job_status",
                                [status for status, _ in JOB_STATUSES],
                                "job, instance, job_id",
                            )
                        ),
                        "{{name}}",
                    )
                ],
                mapping=value_map(_coded(JOB_STATUSES)),
            ),
            timeseries(
                Head(
                    35,
                    "Job delay",
                    "How far each job's destination is behind its source (DescribeDtsJobs "
                    "Delay). The dashed line is the 300 s of DtsJobDelayHigh, which fires when "
                    "the delay stays above it without shrinking for 10 minutes.",
                    (12, 8),
                ),
                per_job("dts_job_delay_seconds"),
                unit="s",
                steps=thresholds("green", (300, "red")),
                dashed_thresholds=True,
            ),
            timeseries(
                Head(
                    36,
                    "Records per second",
                    "Records each job applies per second (Performance.Rps). Zero while a job is "
                    "paused or retrying; a drop while the delay grows points at the destination.",
                    (6, 8),
                ),
                per_job("dts_job_records_per_second"),
                unit="short",
                axis_label="records/s",
            ),
            timeseries(
                Head(
                    37,
                    "Bytes per second",
                    "Data each job moves per second (Performance.Flow, converted from MB/s).",
                    (6, 8),
                ),
                per_job("dts_job_bytes_per_second"),
                unit="binBps",
            ),
            state_timeline(
                Head(
                    38,
                    "Retrying",
                    "Whether DTS is retrying each job (RetryState.Retrying). Alert: "
                    "DtsJobRetrying after 10 minutes; the target is in the Retry target table.",
                    (6, 8),
                ),
                per_job("dts_job_retrying"),
                mapping=value_map([("0", "not retrying", "green"), ("1", "retrying", "orange")]),
            ),
            timeseries(
                Head(
                    39,
                    "Retry count",
                    "Retries of each job's current retry episode (RetryState.RetryCount).",
                    (6, 8),
                ),
                per_job("dts_job_retry_count"),
                unit="short",
            ),
            table(
                Head(
                    40,
                    "Retry target",
                    "What each retrying job retries against: srcDB, destDB, inner_module or "
                    "Other, and the module. Empty when no job is retrying.",
                    (8, 7),
                ),
                named(f"({sel('dts_job_retry_target')} == 1)"),
                organize(["name", "job_id", "target", "module"], hide_value=True),
            ),
            table(
                Head(
                    41,
                    "Verification differences",
                    "Rows each data verification found different between source and "
                    "destination (DescribeCheckJobs DiffCount), per check job. Alert: "
                    "DtsDataVerificationDifferences.",
                    (9, 7),
                ),
                named(sel("dts_data_verification_diff_rows")),
                organize(
                    ["name", "job_id", "check_type", "check_job", "Value"],
                    {"Value": "differing rows", "check_type": "type", "check_job": "check job"},
                ),
                unit="short",
                sort_desc="differing rows",
                overrides=[
                    (
                        "differing rows",
                        [colored_text(), threshold_property("green", (1, "red"))],
                    )
                ],
            ),
            table(
                Head(
                    42,
                    "Verification status",
                    "State of each job's full, incremental and structure verification "
                    "(FullDataCheckStatus, IncDataCheckStatus, StructureDataCheckStatus); "
                    "verifications not started are left out.",
                    (7, 7),
                ),
                sel("dts_job_verification_status", 'status!="NotStarted"') + " == 1",
                organize(["job_id", "kind", "status"], hide_value=True),
                overrides=[
                    (
                        "status",
                        [
                            colored_text(),
                            mappings_property(
                                status_map(
                                    [("Checking", "blue"), ("Failed", "red"), ("Finished", "green")]
                                )
                            ),
                        ],
                    )
                ],
            ),
        ],
    )
