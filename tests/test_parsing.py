"""Parsing of recorded answers and of the loose types the service really sends."""

from __future__ import annotations

from typing import Any

import pytest

from dts_exporter.actions import initialization, modify_status
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.fields import error_code, list_field


def test_sample_initialization_status(init_body: dict[str, Any]) -> None:
    status = initialization.parse(init_body)
    (table,) = status.tables
    assert (table.source_db, table.dest_db, table.table) == (
        "dtstestdata",
        "dtstestdata",
        "customer",
    )
    assert table.status == "Finished"
    assert table.total_rows == 9981
    assert table.finished_rows == 9993
    assert table.used_time_seconds == 0.0
    (obj,) = status.structure
    assert (obj.object_type, obj.object_name, obj.status) == ("Table", "customer", "Finished")
    assert status.synchronization is None
    assert status.problems == ()


def test_sample_modify_status(modify_body: dict[str, Any]) -> None:
    status = modify_status.parse(modify_body)
    assert status.status == "Migrating"
    assert status.precheck is not None and status.precheck.percent == 100
    assert len(status.precheck_items) == 16
    assert all(item.check_status == "Success" for item in status.precheck_items)
    assert status.data_initialization is not None
    assert status.data_initialization.progress == 0
    assert status.data_synchronization is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9981", 9981.0),
        (9981, 9981.0),
        (9981.5, 9981.5),
        ("100.0", 100.0),
        (" 7 ", 7.0),
        ("-3", -3.0),
    ],
)
def test_numbers_in_any_form(raw: object, expected: float) -> None:
    body = {"DataInitializationDetails": [{"TableName": "t", "TotalRowNum": raw}]}
    assert initialization.parse(body).tables[0].total_rows == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_or_empty_numbers_are_none_without_complaint(raw: object) -> None:
    body = {"DataInitializationDetails": [{"TableName": "t", "TotalRowNum": raw}]}
    status = initialization.parse(body)
    assert status.tables[0].total_rows is None
    assert status.problems == ()


@pytest.mark.parametrize("raw", ["abc", True, [], {}, "nan", "inf"])
def test_unusable_numbers_are_reported_not_invented(raw: object) -> None:
    body = {"DataInitializationDetails": [{"TableName": "t", "TotalRowNum": raw}]}
    status = initialization.parse(body)
    assert status.tables[0].total_rows is None
    assert status.problems and "DataInitializationDetails[0].TotalRowNum" in status.problems[0]


def test_unknown_status_is_kept_and_missing_status_is_unknown() -> None:
    body = {
        "DataInitializationDetails": [
            {"TableName": "a", "Status": "Catched"},
            {"TableName": "b"},
        ]
    }
    statuses = [t.status for t in initialization.parse(body).tables]
    assert statuses == ["Catched", "Unknown"]


def test_wrapped_lists_are_unwrapped() -> None:
    body = {"DataInitializationDetails": {"DataInitializationDetail": [{"TableName": "a"}]}}
    assert [t.table for t in initialization.parse(body).tables] == ["a"]


def test_a_list_field_that_is_not_a_list_is_an_invalid_response() -> None:
    with pytest.raises(DtsApiError) as info:
        list_field({"DataInitializationDetails": "oops"}, "DataInitializationDetails")
    assert info.value.code == "InvalidResponse"
    assert "DataInitializationDetails is a string" in info.value.message


def test_duplicate_tables_are_merged_deterministically() -> None:
    body = {
        "DataInitializationDetails": [
            {
                "SourceOwnerDBName": "d",
                "TableName": "t",
                "FinishRowNum": "10",
                "Status": "Migrating",
            },
            {"SourceOwnerDBName": "d", "TableName": "u", "FinishRowNum": "1"},
            {
                "SourceOwnerDBName": "d",
                "TableName": "t",
                "FinishRowNum": "5",
                "Status": "NotStarted",
            },
        ]
    }
    status = initialization.parse(body)
    assert [(t.table, t.finished_rows, t.status) for t in status.tables] == [
        ("t", 10.0, "Migrating"),
        ("u", 1.0, "Unknown"),
    ]
    assert status.duplicates == ("d.t",)


def test_constraints_and_sync_details() -> None:
    body = {
        "StructureInitializationDetails": [
            {
                "ObjectType": "Table",
                "ObjectName": "t",
                "Status": "Finished",
                "Constraints": [
                    {
                        "ObjectType": "Index",
                        "ObjectName": "i",
                        "Status": "Failed",
                        "ErrorMessage": "DTS-1020042 x",
                    }
                ],
            }
        ],
        "DataSynchronizationDetails": [{"TableName": "t", "Status": "Migrating"}],
    }
    status = initialization.parse(body)
    assert status.structure[0].constraints[0].status == "Failed"
    assert status.synchronization is not None and status.synchronization[0].status == "Migrating"


def test_entries_that_are_not_objects_are_reported() -> None:
    status = initialization.parse({"DataInitializationDetails": [1, {"TableName": "a"}]})
    assert [t.table for t in status.tables] == ["a"]
    assert status.problems == ("DataInitializationDetails[0]: a number is not an object",)


def test_modify_status_with_failures_and_delay() -> None:
    body = {
        "Status": "PrecheckFailed",
        "PrecheckStatus": {
            "Status": "Failed",
            "Percent": 100,
            "Detail": [
                {
                    "CheckStatus": "Failed",
                    "ItemName": "CHECK_CONN_SRC",
                    "ErrorMessage": "Original error: Access denied",
                    "RepairMethod": "R2",
                },
            ],
        },
        "DataSynchronizationStatus": {"Status": "Migrating", "Delay": "42", "Percent": "0.0"},
        "StructureInitializationStatus": None,
    }
    status = modify_status.parse(body)
    assert status.status == "PrecheckFailed"
    assert status.precheck_items[0].check_status == "Failed"
    assert status.data_synchronization is not None
    assert status.data_synchronization.delay_seconds == 42
    assert status.structure_initialization is None


def test_modify_status_with_wrong_shapes_reports_problems() -> None:
    status = modify_status.parse(
        {"Status": "Migrating", "PrecheckStatus": "x", "DataInitializationStatus": []}
    )
    assert status.precheck is None and status.data_initialization is None
    assert status.problems == (
        "PrecheckStatus: a string is not an object",
        "DataInitializationStatus: a list is not an object",
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("DTS-1020042 Execute sql error sql: Table 'customer' already exists", "DTS-1020042"),
        ("DTS-070211: Connect Source DB failed. cause by [com.mysql.jdbc...]", "DTS-070211"),
        (
            'java.lang.NumberFormatException: For input string: ""',
            "java.lang.NumberFormatException",
        ),
        ("Original error: Access denied for user 'dtstest'@'100.104.xxx.xx'", "Other"),
        ("", ""),
    ],
)
def test_error_codes_are_bounded(message: str, code: str) -> None:
    assert error_code(message) == code
