"""Job health in the simulator from a scenario: DescribeDtsJobs filters and paging,
DescribeDtsJobDetail, DescribeCheckJobs, their request rules, faults and scenario keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dts_exporter.base.api import DESCRIBE_CHECK_JOBS as CHECKS
from dts_exporter.base.api import DESCRIBE_DTS_JOB_DETAIL as DETAIL
from dts_exporter.base.api import DESCRIBE_DTS_JOBS as JOBS
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.simulator import Fault, load_scenario, parse_scenario
from dts_exporter.simulator import start_simulator as start
from tests.simulator_signer import Clock, Signer

AK = "LTAI5tJobHealthTest"
SECRET = "job-health-test-secret"
REGION = "cn-hangzhou"
SYNC_COUNT = 130
VERIFIED = "dtsi0003hzjob"  # has check jobs
RECORDED = "dtsi0005hzjob"  # has a recorded dts_job_details entry


def instance(index: int) -> str:
    return f"dtsi{index:04d}hzjob"


def entry(index: int, job_type: str = "SYNC", region: str = REGION) -> dict[str, Any]:
    """A DtsJobList entry with the job-health fields, as recorded."""
    return {
        "DtsJobId": f"j{index:04d}{job_type[:3].lower()}",
        "DtsInstanceID": instance(index) if region == REGION else f"dtsi{index:04d}other",
        "DtsJobName": f"job-{index}",
        "JobType": job_type,
        "Status": "Retrying" if index % 10 == 7 else "Synchronizing",
        "Delay": index,
        "Checkpoint": str(1_700_000_000 + index),
        "Performance": {"Rps": str(100 + index), "Flow": "0.25"},
        "RetryState": {"Retrying": index % 10 == 7, "RetryCount": index % 10, "RetryTarget": ""},
        "ErrorDetails": [],
        "TagList": [
            {"TagKey": "team", "TagValue": "red" if index % 2 else "blue"},
            {"TagKey": "env", "TagValue": "prod" if index % 3 else "dev"},
        ],
        "DbObject": '{"shop":{"name":"shop","all":true}}',
        "SourceEndpoint": {"EngineName": "MySQL", "Region": region},
        "DestinationEndpoint": {"EngineName": "MySQL", "Region": region},
    }


def check(index: int, check_type: int, diff: int = 0) -> dict[str, Any]:
    return {
        "DtsInstanceID": VERIFIED,
        "CheckType": check_type,
        "Status": 1 if diff else 0,
        "DiffCount": diff,
        "FinishCount": 1000,
        "TotalCount": 1000,
        "CheckPoint": 1_700_000_000,
        "JobStepId": f"step{index:03d}",
        "JobName": f"check-{index}",
    }


SCENARIO: dict[str, Any] = {
    "jobs": {instance(1): {"DataInitializationDetails": []}},
    "dts_jobs": {
        REGION: [entry(i) for i in range(SYNC_COUNT)] + [entry(500, "MIGRATION")],
        "cn-beijing": [entry(900, "SYNC", "cn-beijing")],
    },
    "dts_job_details": {RECORDED: {"DtsInstanceID": RECORDED, "Status": "Finished", "Delay": 7}},
    "check_jobs": {
        VERIFIED: [check(0, 1, diff=3), check(1, 2)] + [check(i, 2) for i in range(2, 35)],
        instance(4): [],
    },
}


@pytest.fixture
def signer(clock: Clock) -> Iterator[Signer]:
    scenario = parse_scenario(SCENARIO, "job health scenario")
    simulator = start(
        "127.0.0.1", 0, access_key_id=AK, access_key_secret=SECRET, scenario=scenario, clock=clock
    )
    yield Signer(simulator, clock, AK, SECRET)
    simulator.close()


def call(signer: Signer, action: str, **params: str) -> requests.Response:
    response: requests.Response = signer.v1(action, params)
    return response


def ok(signer: Signer, action: str, **params: str) -> dict[str, Any]:
    response = call(signer, action, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert body["Success"] is True
    return body


def refused(signer: Signer, action: str, **params: str) -> tuple[int, str, str]:
    response = call(signer, action, **params)
    body = response.json()
    return response.status_code, body["Code"], body["Message"]


def ids(body: dict[str, Any]) -> list[str]:
    return [item["DtsInstanceID"] for item in body["DtsJobList"]]


# --- DescribeDtsJobs ---------------------------------------------------------------------


def test_130_sync_jobs_page_30_at_a_time(signer: Signer) -> None:
    seen: list[str] = []
    for page, size in ((1, 30), (2, 30), (3, 30), (4, 30), (5, 10), (6, 0)):
        body = ok(signer, JOBS, Region=REGION, JobType="SYNC", PageSize="30", PageNumber=str(page))
        assert (body["TotalRecordCount"], body["PageNumber"]) == (SYNC_COUNT, page)
        assert body["PageRecordCount"] == len(body["DtsJobList"]) == size
        seen += ids(body)
    assert seen == [instance(i) for i in range(SYNC_COUNT)]


def test_instance_id_filter_returns_exactly_the_listed_jobs(signer: Signer) -> None:
    wanted = [instance(i) for i in (3, 77, 129, 41)]
    listed = " , ".join([*wanted, "dtsinosuchjob", instance(500)])  # 500: a MIGRATION job
    body = ok(signer, JOBS, Region=REGION, JobType="SYNC", PageSize="30", DtsInstanceId=listed)
    assert ids(body) == sorted(wanted)  # recorded order
    assert body["TotalRecordCount"] == 4
    migration = ok(signer, JOBS, Region=REGION, DtsInstanceId=listed)
    assert ids(migration) == [instance(500)]
    by_job_id = ok(signer, JOBS, Region=REGION, JobType="SYNC", DtsJobId="j0007syn,j0008syn")
    assert ids(by_job_id) == [instance(7), instance(8)]
    both = ok(
        signer, JOBS, Region=REGION, JobType="SYNC", DtsInstanceId=instance(7), DtsJobId="j0008syn"
    )
    assert both["DtsJobList"] == []


def test_status_and_tags_filters(signer: Signer) -> None:
    retrying = ok(signer, JOBS, Region=REGION, JobType="SYNC", Status="Retrying", PageSize="30")
    assert retrying["TotalRecordCount"] == 13
    assert {item["Status"] for item in retrying["DtsJobList"]} == {"Retrying"}

    def tagged(tags: list[dict[str, str]]) -> int:
        body = ok(signer, JOBS, Region=REGION, JobType="SYNC", Tags=json.dumps(tags))
        total: int = body["TotalRecordCount"]
        return total

    assert tagged([{"key": "team", "value": "red"}]) == 65
    assert tagged([{"key": "team"}]) == SYNC_COUNT  # no value: any value of the key
    assert tagged([{"key": "team", "value": ""}]) == SYNC_COUNT
    assert tagged([{"key": "team", "value": "red"}, {"key": "env", "value": "dev"}]) == 22
    assert tagged([{"key": "owner", "value": "red"}]) == 0
    assert tagged([]) == SYNC_COUNT


@pytest.mark.parametrize(
    "tags", ["not json", '{"key": "team"}', "[1]", '[{"value": "red"}]', '[{"key": 1}]']
)
def test_malformed_tags_are_refused(signer: Signer, tags: str) -> None:
    status, code, message = refused(signer, JOBS, Region=REGION, Tags=tags)
    assert (status, code) == (400, "InvalidParameter")
    assert message.startswith("Specified parameter Tags is not valid")


def test_without_db_list(signer: Signer) -> None:
    kept = ok(signer, JOBS, Region=REGION, JobType="SYNC", WithoutDbList="false")
    assert all("DbObject" in item for item in kept["DtsJobList"])
    assert all("DbObject" in item for item in ok(signer, JOBS, Region=REGION)["DtsJobList"])
    left_out = ok(signer, JOBS, Region=REGION, JobType="SYNC", WithoutDbList="True")
    assert not any("DbObject" in item for item in left_out["DtsJobList"])
    assert left_out["DtsJobList"][0]["RetryState"] == entry(0)["RetryState"]
    assert refused(signer, JOBS, Region=REGION, WithoutDbList="yes")[:2] == (
        400,
        "InvalidParameter",
    )


def test_unknown_parameters_are_ignored(signer: Signer) -> None:
    body = ok(signer, JOBS, Region=REGION, JobType="SYNC", OrderColumn="x", Type="nonsense")
    assert body["TotalRecordCount"] == SYNC_COUNT
    assert ok(signer, CHECKS, InstanceId=VERIFIED, Colour="blue")["TotalRecordCount"] == 35


# --- DescribeDtsJobDetail ----------------------------------------------------------------


def test_detail_is_derived_from_the_listed_entry(signer: Signer) -> None:
    body = ok(signer, DETAIL, DtsInstanceID=instance(7), RegionId=REGION)
    assert "DtsJobList" not in body
    assert (body["DtsInstanceID"], body["DtsJobId"], body["Status"]) == (
        instance(7),
        "j0007syn",
        "Retrying",
    )
    assert body["Delay"] == 7000  # milliseconds here
    assert body["Checkpoint"] == 1_700_000_007  # an integer here
    assert body["RetryState"] == entry(7)["RetryState"]
    assert "Performance" not in body
    [sub] = body["SubSyncJob"]
    assert sub["Performance"] == {"Rps": "107", "Flow": "0.25"}
    assert (sub["Delay"], sub["Checkpoint"]) == (7000, "1700000007")
    assert ok(signer, DETAIL, DtsJobId="j0007syn")["DtsInstanceID"] == instance(7)
    other_region = ok(signer, DETAIL, DtsInstanceID="dtsi0900other", RegionId=REGION)
    assert other_region["SourceEndpoint"]["Region"] == "cn-beijing"
    migration = ok(signer, DETAIL, DtsInstanceID=instance(500))
    assert migration["Delay"] == 500  # already milliseconds
    assert "SubSyncJob" not in migration


def test_recorded_detail_wins(signer: Signer) -> None:
    body = ok(signer, DETAIL, DtsInstanceID=RECORDED, DtsJobId="j0005syn")
    assert (body["Status"], body["Delay"]) == ("Finished", 7)
    assert "SubSyncJob" not in body


def test_detail_request_rules(signer: Signer) -> None:
    status, code, message = refused(signer, DETAIL, RegionId=REGION)
    assert (status, code) == (400, "MissingParameter")
    assert '"DtsJobId"' in message
    assert refused(signer, DETAIL, DtsJobId="j0001syn", SyncSubJobHistory="maybe")[:2] == (
        400,
        "InvalidParameter",
    )
    assert ok(signer, DETAIL, DtsJobId="j0001syn", SyncSubJobHistory="true")["SubSyncJob"]
    for params in (
        {"DtsInstanceID": "dtsinosuchjob"},
        {"DtsInstanceID": instance(1), "DtsJobId": "j0002syn"},
    ):
        response = call(signer, DETAIL, **params)
        assert response.status_code == 200
        body = response.json()
        assert (body["Success"], body["ErrCode"]) == (False, "InvalidJobId")


# --- DescribeCheckJobs -------------------------------------------------------------------


def test_check_jobs_filter_and_page(signer: Signer) -> None:
    first = ok(signer, CHECKS, InstanceId=VERIFIED, CheckType="3")
    assert (first["TotalRecordCount"], first["PageRecordCount"], first["PageNumber"]) == (35, 30, 1)
    second = ok(signer, CHECKS, InstanceId=VERIFIED, PageNumber="2")
    assert [item["JobStepId"] for item in second["CheckJobs"]] == [
        f"step{i:03d}" for i in range(30, 35)
    ]
    full = ok(signer, CHECKS, InstanceId=VERIFIED, CheckType="1")["CheckJobs"]
    assert [(item["CheckType"], item["DiffCount"], item["Status"]) for item in full] == [(1, 3, 1)]
    incremental = ok(signer, CHECKS, InstanceId=VERIFIED, CheckType="2", PageSize="100")
    assert incremental["PageRecordCount"] == 34
    assert ok(signer, CHECKS, InstanceId=VERIFIED, CheckJobId="step001")["TotalRecordCount"] == 1
    for job_id in (instance(4), instance(9), "dtsinosuchjob"):  # no verification: empty
        assert ok(signer, CHECKS, InstanceId=job_id)["CheckJobs"] == []
    assert ok(signer, CHECKS)["TotalRecordCount"] == 35  # no InstanceId: every job's


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CheckType", "4"),
        ("CheckType", "0"),
        ("CheckType", "all"),
        ("PageSize", "40"),
        ("PageSize", "20"),
        ("PageNumber", "0"),
    ],
)
def test_check_jobs_request_rules(signer: Signer, name: str, value: str) -> None:
    status, code, message = refused(signer, CHECKS, InstanceId=VERIFIED, **{name: value})
    assert (status, code) == (400, "InvalidParameter")
    assert f"Specified parameter {name} is not valid" in message


def test_check_jobs_page_sizes(signer: Signer) -> None:
    for size, count in (("30", 30), ("50", 35), ("100", 35)):
        assert ok(signer, CHECKS, InstanceId=VERIFIED, PageSize=size)["PageRecordCount"] == count


# --- faults ------------------------------------------------------------------------------


def test_a_job_id_fault_is_for_describe_initialization_status_only(signer: Signer) -> None:
    job = instance(1)
    signer.server.set_faults({job: [Fault("internal_error")]})
    assert call(signer, INIT, SynchronizationJobId=job).status_code == 500
    assert call(signer, DETAIL, DtsInstanceID=job).status_code == 200
    assert call(signer, CHECKS, InstanceId=job).status_code == 200
    assert call(signer, JOBS, Region=REGION, DtsInstanceId=job).status_code == 200
    signer.server.set_faults({f"{INIT}:{job}": [Fault("service_unavailable")]})
    assert call(signer, INIT, SynchronizationJobId=job).status_code == 503
    signer.server.set_faults(
        {f"{DETAIL}:j0001syn": [Fault("reset")], f"{CHECKS}:{job}": [Fault("html")]}
    )
    with pytest.raises(requests.ConnectionError):
        call(signer, DETAIL, DtsJobId="j0001syn")
    assert call(signer, DETAIL, DtsInstanceID=job).status_code == 200  # keyed by DtsJobId
    assert call(signer, CHECKS, InstanceId=job).status_code == 502
    assert call(signer, CHECKS, InstanceId=instance(2)).status_code == 200


def test_action_faults(signer: Signer) -> None:
    server = signer.server
    server.set_faults({CHECKS: [Fault("throttling", retry_after_ms=700)]})
    throttled = call(signer, CHECKS, InstanceId=VERIFIED)
    assert (throttled.status_code, throttled.headers["x-acs-retry-after"]) == (400, "700")
    assert call(signer, DETAIL, DtsInstanceID=VERIFIED).status_code == 200
    server.set_faults({f"{DETAIL}:{VERIFIED}": [Fault("service_unavailable")]})
    assert call(signer, DETAIL, DtsInstanceID=VERIFIED).status_code == 503
    assert call(signer, DETAIL, DtsInstanceID=instance(2)).status_code == 200
    assert call(signer, CHECKS, InstanceId=VERIFIED).status_code == 200
    server.set_faults({CHECKS: [Fault("internal_error", pages=frozenset({2}))]})
    assert call(signer, CHECKS, InstanceId=VERIFIED).status_code == 200
    assert call(signer, CHECKS, InstanceId=VERIFIED, PageNumber="2").status_code == 500
    server.set_faults({"*": [Fault("html")]})
    assert call(signer, DETAIL, DtsJobId="j0001syn").status_code == 502
    assert server.request_counts()[DETAIL] == 4


# --- scenario format ---------------------------------------------------------------------


def test_scenario_new_sections_load(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "dts_job_details: {dtsiA: {Status: Suspending, Delay: 300000}}\n"
        "check_jobs:\n  dtsiA:\n    - {CheckType: '1', DiffCount: 3}\n  dtsiB:\n"
        "faults: {DescribeCheckJobs: {kind: throttling}, 'DescribeDtsJobDetail:dtsiA': []}\n"
    )
    scenario = load_scenario(str(path))
    assert scenario.dts_job_details == {"dtsiA": {"Status": "Suspending", "Delay": 300000}}
    assert scenario.check_jobs == {"dtsiA": ({"CheckType": "1", "DiffCount": 3},), "dtsiB": ()}
    assert scenario.faults == {CHECKS: (Fault("throttling"),), f"{DETAIL}:dtsiA": ()}
