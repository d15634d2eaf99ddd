"""The Modify tasks row (objects added to or removed from running jobs, their prechecks and
stages) and the collapsed Exporter health row (dts_up, API calls, latency, collection)."""

from __future__ import annotations

from tools.dashboard.kit import (
    MODIFY_TASK_STATUSES,
    Head,
    Q,
    Section,
    colored_background,
    colored_text,
    exporter_sel,
    mappings_property,
    named,
    organize,
    sel,
    status_map,
    thresholds,
    value_map,
)
from tools.dashboard.panels import bargauge, state_timeline, table, timeseries


def modify_tasks() -> Section:
    return Section(
        20,
        "Modify tasks",
        [
            table(
                Head(
                    21,
                    "Task status",
                    "Current status of each modify task (objects added or removed from a running "
                    "job). Failed or PrecheckFailed: read the stage errors and precheck items.",
                    (8, 8),
                ),
                sel("dts_modify_task_status") + " == 1",
                organize(["job_id", "task_id", "status"], hide_value=True),
                overrides=[
                    (
                        "status",
                        [colored_text(), mappings_property(status_map(MODIFY_TASK_STATUSES))],
                    )
                ],
            ),
            bargauge(
                Head(
                    22,
                    "Stage progress",
                    "Progress of each modify task's stages: precheck, structure initialization, "
                    "data initialization, data synchronization. A stage stuck below 100% needs a "
                    "look.",
                    (16, 8),
                ),
                [Q(sel("dts_modify_stage_progress_ratio"), "{{task_id}} {{stage}}")],
                unit="percentunit",
                steps=thresholds("blue", (1, "green")),
                maximum=1,
            ),
            table(
                Head(
                    23,
                    "Precheck items",
                    "Every precheck item of every modify task, failed ones first. A failed item "
                    "blocks the task: fix what it checks (connectivity, privileges, binlog "
                    "settings) and rerun.",
                    (12, 9),
                ),
                f"sort({sel('dts_modify_precheck_item_success')})",
                organize(["job_id", "task_id", "item", "Value"], {"Value": "result"}),
                steps=thresholds("red", (1, "green")),
                mapping=value_map([("1", "passed", "green"), ("0", "failed", "red")]),
                overrides=[("result", [colored_background()])],
            ),
            table(
                Head(
                    24,
                    "Stage errors",
                    "Stages (or stage=task, the task itself) reporting an error, with the error "
                    "code. The full message is in the exporter's log.",
                    (12, 9),
                ),
                sel("dts_modify_stage_error") + " == 1",
                organize(["job_id", "task_id", "stage", "code"], hide_value=True),
            ),
            timeseries(
                Head(
                    25,
                    "Delay per task",
                    "Incremental synchronization delay of each modify task, with the job's "
                    "name. Compare with CloudMonitor's job delay when they disagree.",
                    (12, 8),
                ),
                [
                    Q(
                        named(sel("dts_modify_data_synchronization_delay_seconds")),
                        "{{name}} {{task_id}}",
                    )
                ],
                unit="s",
                steps=thresholds("green", (60, "orange"), (300, "red")),
            ),
            timeseries(
                Head(
                    26,
                    "Rows copied by modify tasks",
                    "Rows each modify task has copied during its data initialization. A flat "
                    "line while the task is Migrating means its copy stalled.",
                    (12, 8),
                ),
                [Q(sel("dts_modify_data_initialization_rows"), "{{job_id}} {{task_id}}")],
                unit="short",
                calcs=["lastNotNull"],
            ),
        ],
    )


def exporter_health() -> Section:
    def rate(metric: str) -> str:
        return f"rate({exporter_sel(metric)}[$__rate_interval])"

    return Section(
        32,
        "Exporter health",
        collapsed=True,
        panels=[
            state_timeline(
                Head(
                    27,
                    "DTS API readable",
                    "dts_up per job (DescribeInitializationStatus) and modify task "
                    "(DescribeSynchronizationObjectModifyStatus). Down: the exporter's log says "
                    "why.",
                    (24, 8),
                ),
                [Q(sel("dts_up"), "{{job_id}} {{task_id}}")],
                mapping=value_map([("1", "up", "green"), ("0", "down", "red")]),
                steps=thresholds("red", (1, "green")),
            ),
            timeseries(
                Head(
                    28,
                    "API calls by result code",
                    "DTS API requests per second by action and result code. Anything but "
                    "Success (Throttling.User, Timeout, ...) is a failed call: check "
                    "credentials, quota, network.",
                    (12, 8),
                ),
                [
                    Q(
                        f"sum by (action, code) ({rate('dts_exporter_api_requests_total')})",
                        "{{action}} {{code}}",
                    )
                ],
                unit="reqps",
                calcs=["mean", "max"],
            ),
            timeseries(
                Head(
                    29,
                    "API latency p90",
                    "90th percentile of DTS API request duration per action. Slow answers push "
                    "the collection towards scrape_timeout_seconds.",
                    (12, 8),
                ),
                [
                    Q(
                        "histogram_quantile(0.9, sum by (action, le) "
                        f"({rate('dts_exporter_api_request_duration_seconds_bucket')}))",
                        "{{action}}",
                    )
                ],
                unit="s",
                calcs=["mean", "max"],
            ),
            timeseries(
                Head(
                    30,
                    "Collection duration",
                    "Wall time of each exporter's last collection of DTS data. Keep it well "
                    "below the Prometheus scrape timeout; raise concurrency if it grows with the "
                    "number of ids.",
                    (12, 8),
                ),
                [Q(exporter_sel("dts_exporter_scrape_duration_seconds"), "{{instance}}")],
                unit="s",
                calcs=["mean", "max"],
            ),
            timeseries(
                Head(
                    31,
                    "Unusable response fields",
                    "Fields in DTS answers that were present but unusable and skipped, per "
                    "second. Non-zero means the API changed shape: the exporter's log names the "
                    "field.",
                    (12, 8),
                ),
                [
                    Q(
                        f"sum by (action) ({rate('dts_exporter_response_problems_total')})",
                        "{{action}}",
                    )
                ],
                unit="short",
                calcs=[],
            ),
            timeseries(
                Head(
                    43,
                    "Learnt API rate",
                    "The rate the exporter's flow control allows per region and action after "
                    "DTS throttled it (Throttling.User). No series: never throttled, calls go "
                    "out as fast as concurrency allows. A low rate for long means the account's "
                    "flow control is shared with other clients.",
                    (12, 8),
                ),
                [
                    Q(
                        "max by (region, action) "
                        f"({exporter_sel('dts_exporter_api_rate_limit_requests_per_second')})",
                        "{{region}} {{action}}",
                    )
                ],
                unit="reqps",
                calcs=["min", "last"],
            ),
            timeseries(
                Head(
                    44,
                    "Stuck calls and suppressed log lines",
                    "Calls not made again because the previous collection's call for the same "
                    "id was still running (a hung endpoint), and log lines about probed ids "
                    "counted instead of written (a probe flood), per second.",
                    (12, 8),
                ),
                [
                    Q(
                        f"sum by (action) ({rate('dts_exporter_api_calls_still_running_total')})",
                        "still running: {{action}}",
                    ),
                    Q(
                        f"sum by (reason) ({rate('dts_exporter_log_lines_suppressed_total')})",
                        "log lines suppressed: {{reason}}",
                    ),
                ],
                unit="short",
                calcs=["max"],
            ),
        ],
    )
