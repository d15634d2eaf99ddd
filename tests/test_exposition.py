"""Metric values as a user reads them, from parsed records to a registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from dts_exporter.actions import NAMES, initialization, modify_status
from dts_exporter.actions.tables import TABLE as TABLE_LABELS
from dts_exporter.actions.tables import TABLE_SERIES, TABLE_STATUS, TableFamily
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import JobConfig
from dts_exporter.exposition import build_families
from dts_exporter.selfmetrics import ApiStats
from tests.conftest import BLANK_INFO, StaticCollector, make_snapshot


def registry_for(
    jobs: list[tuple[str, dict[str, Any] | None]],
    tasks: list[tuple[str, str, dict[str, Any] | None]] = (),  # type: ignore[assignment]
) -> CollectorRegistry:
    failure = DtsApiError("Throttling.User", "Request was denied due to user flow control.")
    snapshot = make_snapshot(
        [
            (JobConfig(id=job_id, name=f"name-{job_id}"), initialization.parse(body), None)
            if body is not None
            else (JobConfig(id=job_id), None, failure)
            for job_id, body in jobs
        ],
        [
            (job_id, task_id, modify_status.parse(body), None)
            if body is not None
            else (job_id, task_id, None, failure)
            for job_id, task_id, body in tasks
        ],
        duration_seconds=0.25,
    )
    registry = CollectorRegistry()
    registry.register(StaticCollector(build_families(snapshot, ApiStats(NAMES))))
    return registry


TABLE = {"job_id": "j1", "source_db": "dtstestdata", "dest_db": "dtstestdata", "table": "customer"}


def test_sample_job_values(init_body: dict[str, Any]) -> None:
    r = registry_for([("j1", init_body)])
    assert r.get_sample_value("dts_data_initialization_expected_rows", TABLE) == 9981
    assert r.get_sample_value("dts_data_initialization_synced_rows", TABLE) == 9993
    assert r.get_sample_value("dts_data_initialization_row_gap", TABLE) == -12
    assert r.get_sample_value("dts_data_initialization_duration_seconds", TABLE) == 0
    assert (
        r.get_sample_value("dts_data_initialization_table_status", {**TABLE, "status": "Finished"})
        == 1
    )
    assert r.get_sample_value("dts_up", {"action": INIT, "job_id": "j1", "task_id": ""}) == 1
    assert (
        r.get_sample_value(
            "dts_job_info",
            {
                "job_id": "j1",
                "name": "name-j1",
                "region": "cn-hangzhou",
                **BLANK_INFO,
            },
        )
        == 1
    )


def test_per_status_counts_always_carry_four_statuses(init_body: dict[str, Any]) -> None:
    r = registry_for([("j1", init_body)])
    for status, count in {"NotStarted": 0, "Migrating": 0, "Failed": 0, "Finished": 1}.items():
        assert (
            r.get_sample_value("dts_data_initialization_tables", {"job_id": "j1", "status": status})
            == count
        )
        assert (
            r.get_sample_value(
                "dts_structure_initialization_objects",
                {"job_id": "j1", "object_type": "Table", "status": status},
            )
            == count
        )
        assert (
            r.get_sample_value(
                "dts_structure_initialization_constraints", {"job_id": "j1", "status": status}
            )
            == 0
        )
    # DataSynchronizationDetails is absent from the sample: no series, not invented zeros.
    assert (
        r.get_sample_value(
            "dts_data_synchronization_tables", {"job_id": "j1", "status": "Finished"}
        )
        is None
    )


def test_missing_fields_produce_no_series() -> None:
    r = registry_for(
        [
            (
                "j1",
                {
                    "DataInitializationDetails": [
                        {"TableName": "t", "Status": "Migrating", "FinishRowNum": "5"}
                    ]
                },
            )
        ]
    )
    labels = {"job_id": "j1", "source_db": "", "dest_db": "", "table": "t"}
    assert r.get_sample_value("dts_data_initialization_synced_rows", labels) == 5
    assert r.get_sample_value("dts_data_initialization_expected_rows", labels) is None
    assert r.get_sample_value("dts_data_initialization_row_gap", labels) is None


def test_unknown_status_is_counted_beside_the_four() -> None:
    r = registry_for(
        [("j1", {"DataInitializationDetails": [{"TableName": "t", "Status": "Catched"}]})]
    )
    assert (
        r.get_sample_value("dts_data_initialization_tables", {"job_id": "j1", "status": "Catched"})
        == 1
    )
    assert (
        r.get_sample_value("dts_data_initialization_tables", {"job_id": "j1", "status": "Finished"})
        == 0
    )


def test_errors_become_bounded_codes_not_messages() -> None:
    body = {
        "DataInitializationDetails": [
            {
                "TableName": "t",
                "Status": "Failed",
                "ErrorMessage": 'java.lang.NumberFormatException: For input string: ""',
            }
        ],
        "StructureInitializationDetails": [
            {
                "ObjectType": "Table",
                "ObjectName": "t",
                "Status": "Finished",
                "Constraints": [
                    {
                        "ObjectType": "Index",
                        "ObjectName": "idx",
                        "Status": "Failed",
                        "ErrorMessage": "DTS-1020042 Execute sql error",
                    }
                ],
            }
        ],
    }
    r = registry_for([("j1", body)])
    assert (
        r.get_sample_value(
            "dts_data_initialization_table_error",
            {
                "job_id": "j1",
                "source_db": "",
                "dest_db": "",
                "table": "t",
                "code": "java.lang.NumberFormatException",
            },
        )
        == 1
    )
    assert (
        r.get_sample_value(
            "dts_structure_initialization_object_error",
            {
                "job_id": "j1",
                "source_db": "",
                "dest_db": "",
                "object_type": "Index",
                "object": "idx",
                "code": "DTS-1020042",
            },
        )
        == 1
    )
    assert (
        r.get_sample_value(
            "dts_structure_initialization_constraints", {"job_id": "j1", "status": "Failed"}
        )
        == 1
    )


def test_sample_modify_task_values(modify_body: dict[str, Any]) -> None:
    r = registry_for([("j1", None)], [("j1", "k1", modify_body)])
    ids = {"job_id": "j1", "task_id": "k1"}
    assert r.get_sample_value("dts_modify_task_status", {**ids, "status": "Migrating"}) == 1
    for other in ("NotStarted", "Prechecking", "PrecheckFailed", "Failed", "Finished"):
        assert r.get_sample_value("dts_modify_task_status", {**ids, "status": other}) == 0
    assert (
        r.get_sample_value(
            "dts_modify_stage_status", {**ids, "stage": "precheck", "status": "Finished"}
        )
        == 1
    )
    assert (
        r.get_sample_value(
            "dts_modify_stage_status", {**ids, "stage": "precheck", "status": "Failed"}
        )
        == 0
    )
    assert (
        r.get_sample_value(
            "dts_modify_stage_progress_ratio", {**ids, "stage": "data_initialization"}
        )
        == 1.0
    )
    assert r.get_sample_value("dts_modify_structure_initialization_tables", ids) == 0
    assert r.get_sample_value("dts_modify_data_initialization_rows", ids) == 0
    assert (
        r.get_sample_value("dts_modify_precheck_item_success", {**ids, "item": "CHECK_CONN_SRC"})
        == 1
    )
    assert r.get_sample_value("dts_modify_precheck_items", {**ids, "check_status": "Success"}) == 16
    assert r.get_sample_value("dts_modify_precheck_items", {**ids, "check_status": "Failed"}) == 0
    # no DataSynchronizationStatus in the sample: no delay series
    assert r.get_sample_value("dts_modify_data_synchronization_delay_seconds", ids) is None
    assert r.get_sample_value("dts_up", {"action": MODIFY, **ids}) == 1


def test_modify_delay_failed_precheck_and_percent_ratio() -> None:
    body = {
        "Status": "PrecheckFailed",
        "ErrorMessage": "DTS-070211: Connect Source DB failed.",
        "PrecheckStatus": {
            "Status": "Failed",
            "Percent": "50",
            "Detail": [
                {"CheckStatus": "Failed", "ItemName": "CHECK_CONN_SRC"},
                {"CheckStatus": "Success", "ItemName": "CHECK_ENGINE"},
            ],
        },
        "DataSynchronizationStatus": {"Status": "Migrating", "Delay": "17", "Percent": "0"},
    }
    r = registry_for([], [("j1", "k1", body)])
    ids = {"job_id": "j1", "task_id": "k1"}
    assert (
        r.get_sample_value("dts_modify_stage_progress_ratio", {**ids, "stage": "precheck"}) == 0.5
    )
    assert (
        r.get_sample_value("dts_modify_precheck_item_success", {**ids, "item": "CHECK_CONN_SRC"})
        == 0
    )
    assert r.get_sample_value("dts_modify_precheck_items", {**ids, "check_status": "Failed"}) == 1
    assert r.get_sample_value("dts_modify_data_synchronization_delay_seconds", ids) == 17
    assert (
        r.get_sample_value("dts_modify_stage_error", {**ids, "stage": "task", "code": "DTS-070211"})
        == 1
    )


def test_failed_ids_read_up_zero_and_export_no_data(init_body: dict[str, Any]) -> None:
    r = registry_for([("good", init_body), ("bad", None)], [("bad", "k1", None)])
    assert r.get_sample_value("dts_up", {"action": INIT, "job_id": "bad", "task_id": ""}) == 0
    assert r.get_sample_value("dts_up", {"action": MODIFY, "job_id": "bad", "task_id": "k1"}) == 0
    assert r.get_sample_value("dts_up", {"action": INIT, "job_id": "good", "task_id": ""}) == 1
    assert (
        r.get_sample_value(
            "dts_data_initialization_tables", {"job_id": "bad", "status": "Finished"}
        )
        is None
    )
    assert (
        r.get_sample_value(
            "dts_data_initialization_tables", {"job_id": "good", "status": "Finished"}
        )
        == 1
    )
    assert (
        r.get_sample_value(
            "dts_job_info",
            {
                "job_id": "bad",
                "name": "",
                "region": "cn-hangzhou",
                **BLANK_INFO,
            },
        )
        == 1
    )


def test_exporter_self_metrics_start_at_zero() -> None:
    r = registry_for([])
    assert (
        r.get_sample_value("dts_exporter_api_requests_total", {"action": INIT, "code": "Success"})
        == 0
    )
    assert (
        r.get_sample_value("dts_exporter_api_request_duration_seconds_count", {"action": MODIFY})
        == 0
    )
    assert r.get_sample_value("dts_exporter_scrape_duration_seconds") == 0.25
    assert (
        r.get_sample_value(
            "dts_exporter_build_info", {"version": __import__("dts_exporter").__version__}
        )
        == 1
    )


def test_per_table_families_have_the_labels_they_write() -> None:
    """TableFamily writes the label names out for speed; the declarations must agree, and
    the output must parse back to exactly those labels."""
    for metric, _ in TABLE_SERIES:
        expected = (*TABLE_LABELS, "status") if metric is TABLE_STATUS else TABLE_LABELS
        assert metric.labels == expected and metric.type == "gauge"
        family = TableFamily(metric)
        family.add_tables("j", [initialization.parse(_ONE_TABLE).tables[0]])
        (sample,) = family.samples
        assert tuple(sample.labels) == metric.labels


_ONE_TABLE = {
    "DataInitializationDetails": [
        {
            "SourceOwnerDBName": "d",
            "DestinationOwnerDBName": "d",
            "TableName": "t",
            "Status": "Migrating",
            "TotalRowNum": "10",
            "FinishRowNum": "5",
            "UsedTime": "1",
        }
    ]
}
