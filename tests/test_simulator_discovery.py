"""DescribeDtsJobs in the simulator: scenario replay, paging, filters, faults and the demo;
the validation of every scenario section about DTS jobs (dts_jobs, dts_job_details,
check_jobs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dts_exporter.base.api import DESCRIBE_DTS_JOBS as JOBS
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.errors import ConfigError
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    DEMO_MIGRATION_JOB_ID,
    Fault,
    SimulatorServer,
    load_scenario,
    parse_scenario,
    start_simulator,
)
from tests.simulator_signer import Clock, Signer

AK = "LTAI5tDiscoveryTest"
SECRET = "discovery-test-secret"
REGION = "cn-hangzhou"
SYNC_COUNT = 45
MIGRATION_COUNT = 3


def entry(index: int, job_type: str, region: str = REGION) -> dict[str, Any]:
    """A DtsJobList entry as recorded: strings where the service sends strings."""
    return {
        "DtsJobId": f"k{index:04d}job{job_type.lower()}",
        "DtsInstanceID": f"dtsi{index:04d}{region[-4:]}",
        "DtsJobName": f"{job_type.lower()}-{index}",
        "Status": "Synchronizing" if job_type == "SYNC" else "Migrating",
        "JobType": job_type,
        "Delay": index,
        "Checkpoint": str(1_700_000_000 + index),
        "ErrorMessage": "",
        "CreateTime": "2024-03-01T08:00:00Z",
        "SourceEndpoint": {"EngineName": "MySQL", "Region": region, "InstanceType": "RDS"},
        "DestinationEndpoint": {"EngineName": "PolarDB", "Region": region},
        "DataInitializationStatus": {"Status": "Finished", "Percent": "100", "Progress": "7"},
    }


SCENARIO: dict[str, Any] = {
    "jobs": {"dtsi0001ngzh": {"DataInitializationDetails": []}},
    "dts_jobs": {
        REGION: [entry(i, "SYNC") for i in range(SYNC_COUNT)]
        + [entry(100 + i, "MIGRATION") for i in range(MIGRATION_COUNT)],
        "cn-beijing": [entry(200, "SYNC", "cn-beijing"), entry(201, "SUBSCRIBE", "cn-beijing")],
        "ap-southeast-1": None,
    },
}


@pytest.fixture
def server(clock: Clock) -> Iterator[SimulatorServer]:
    simulator = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        scenario=parse_scenario(SCENARIO, "discovery scenario"),
        clock=clock,
    )
    yield simulator
    simulator.close()


@pytest.fixture
def signer(server: SimulatorServer, clock: Clock) -> Signer:
    return Signer(server, clock, AK, SECRET)


def jobs(signer: Signer, style: str = "v1", **params: str) -> requests.Response:
    response: requests.Response = signer.call(style, JOBS, params)
    return response


def listed(signer: Signer, style: str = "v1", **params: str) -> dict[str, Any]:
    response = jobs(signer, style, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert (body["Success"], body["HttpStatusCode"]) == (True, 200)
    assert body["PageRecordCount"] == len(body["DtsJobList"])
    return body


def error_code(response: requests.Response) -> str:
    code: str = response.json()["Code"]
    return code


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_paging_over_three_pages(signer: Signer, style: str) -> None:
    expected = [item["DtsInstanceID"] for item in SCENARIO["dts_jobs"][REGION][:SYNC_COUNT]]
    seen: list[str] = []
    for page, size in ((1, 20), (2, 20), (3, 5), (4, 0)):
        body = listed(signer, style, Region=REGION, JobType="SYNC", PageNumber=str(page))
        assert body["TotalRecordCount"] == SYNC_COUNT
        assert (body["PageNumber"], body["PageRecordCount"]) == (page, size)
        seen += [item["DtsInstanceID"] for item in body["DtsJobList"]]
    assert seen == expected


def test_entries_are_replayed_as_recorded(signer: Signer) -> None:
    body = listed(signer, Region=REGION, JobType="SYNC", PageSize="10", PageNumber="2")
    assert body["DtsJobList"] == SCENARIO["dts_jobs"][REGION][10:20]
    assert body["DtsJobList"][0]["Checkpoint"] == "1700000010"  # a string, as recorded
    assert body["DtsJobList"][0]["Delay"] == 10


def test_job_type_filter(signer: Signer) -> None:
    default = listed(signer, Region=REGION)
    assert default["TotalRecordCount"] == MIGRATION_COUNT
    assert {item["JobType"] for item in default["DtsJobList"]} == {"MIGRATION"}
    sync = listed(signer, Region=REGION, JobType="sync", PageSize="30")
    assert sync["TotalRecordCount"] == SYNC_COUNT
    assert {item["JobType"] for item in sync["DtsJobList"]} == {"SYNC"}
    assert listed(signer, Region=REGION, JobType="SUBSCRIBE")["TotalRecordCount"] == 0
    assert listed(signer, Region="cn-beijing", JobType="SUBSCRIBE")["TotalRecordCount"] == 1
    invalid = jobs(signer, Region=REGION, JobType="ETL")
    assert (invalid.status_code, error_code(invalid)) == (400, "InvalidParameter")
    assert "JobType" in invalid.json()["Message"]


def test_region_filter(signer: Signer) -> None:
    beijing = listed(signer, Region="cn-beijing", JobType="SYNC")
    assert [item["DtsInstanceID"] for item in beijing["DtsJobList"]] == ["dtsi0200jing"]
    by_region_id = listed(signer, RegionId="cn-beijing", JobType="SYNC")
    assert by_region_id["DtsJobList"] == beijing["DtsJobList"]
    both = listed(signer, RegionId=REGION, Region="cn-beijing", JobType="SYNC")
    assert both["DtsJobList"] == beijing["DtsJobList"]  # Region wins
    for region in ("ap-southeast-1", "eu-central-1"):
        empty = listed(signer, Region=region, JobType="SYNC")
        assert (empty["TotalRecordCount"], empty["DtsJobList"]) == (0, [])
    missing = jobs(signer, JobType="SYNC")
    assert (missing.status_code, error_code(missing)) == (400, "MissingParameter")
    assert '"Region"' in missing.json()["Message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PageSize", "0"),
        ("PageSize", "1"),
        ("PageSize", "25"),
        ("PageSize", "40"),
        ("PageSize", "100"),
        ("PageSize", "x"),
        ("PageNumber", "0"),
        ("PageNumber", "-1"),
    ],
)
def test_out_of_range_paging(signer: Signer, name: str, value: str) -> None:
    response = jobs(signer, "v3", Region=REGION, **{name: value})
    assert (response.status_code, error_code(response)) == (400, "InvalidParameter")
    assert name in response.json()["Message"]


def test_page_size_takes_the_documented_values(signer: Signer) -> None:
    for size in (10, 20, 30):
        body = listed(signer, Region=REGION, JobType="SYNC", PageSize=str(size))
        assert (body["PageRecordCount"], body["TotalRecordCount"]) == (size, SYNC_COUNT)
    refused = jobs(signer, Region=REGION, JobType="SYNC", PageSize="100")
    assert "It must be one of 10, 20, 30." in refused.json()["Message"]


def test_faults_on_discovery_only(server: SimulatorServer, signer: Signer) -> None:
    server.set_faults({JOBS: [Fault("throttling", retry_after_ms=2000)]})
    throttled = jobs(signer, Region=REGION, JobType="SYNC")
    assert (throttled.status_code, error_code(throttled)) == (400, "Throttling.User")
    assert throttled.headers["x-acs-retry-after"] == "2000"
    assert signer.v1(INIT, {"SynchronizationJobId": "dtsi0001ngzh"}).status_code == 200
    server.set_faults({JOBS: [Fault("internal_error", pages=frozenset({2}))]})
    assert jobs(signer, Region=REGION, JobType="SYNC", PageNumber="1").status_code == 200
    assert jobs(signer, "v3", Region=REGION, JobType="SYNC", PageNumber="2").status_code == 500
    server.set_faults({"*": [Fault("service_unavailable")]})
    assert jobs(signer, Region=REGION).status_code == 503
    server.set_faults({"dtsi0001ngzh": [Fault("reset")]})
    assert jobs(signer, Region=REGION).status_code == 200


def test_discovery_requires_a_signature(server: SimulatorServer, signer: Signer) -> None:
    response = requests.post(
        server.url + "/",
        params={"Action": JOBS, "Version": "2020-01-01", "Format": "JSON", "Region": REGION},
        timeout=10,
    )
    assert (response.status_code, error_code(response)) == (400, "IncompleteSignature")
    wrong = signer.v1(JOBS, {"Region": REGION}, secret="not-the-secret")
    assert error_code(wrong) == "SignatureDoesNotMatch"
    listed(signer, Region=REGION)
    assert server.request_counts() == {JOBS: 1}


def test_fault_admin_endpoint_accepts_the_pseudo_id(
    server: SimulatorServer, signer: Signer
) -> None:
    faults = {JOBS: [{"kind": "html", "pages": [1]}]}
    response = requests.put(server.url + "/_simulator/faults", json=faults, timeout=10)
    assert response.status_code == 204
    assert jobs(signer, Region=REGION).status_code == 502


# --- the built-in demo -----------------------------------------------------------------------


@pytest.fixture
def demo(clock: Clock) -> Iterator[Signer]:
    simulator = start_simulator("127.0.0.1", 0, clock=clock)
    yield Signer(simulator, clock, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    simulator.close()


def test_demo_lists_one_sync_entry_per_demo_job(demo: Signer, clock: Clock) -> None:
    body = listed(demo, Region=REGION, JobType="SYNC")
    assert body["TotalRecordCount"] == len(DEMO_JOBS)
    entries = body["DtsJobList"]
    assert [item["DtsInstanceID"] for item in entries] == [job.job_id for job in DEMO_JOBS]
    assert [item["DtsJobName"] for item in entries] == [job.name for job in DEMO_JOBS]
    engines = {item["DtsJobName"]: item["SourceEndpoint"]["EngineName"] for item in entries}
    assert engines == {
        "orders": "MySQL",
        "billing": "MySQL",
        "catalog": "PostgreSQL",
        "analytics": "MySQL",
    }
    statuses = {item["DtsJobName"]: item["Status"] for item in entries}
    assert statuses == {
        "orders": "Synchronizing",
        "billing": "Retrying",
        "catalog": "Synchronizing",
        "analytics": "Suspending",
    }
    for item in entries:
        assert item["JobType"] == "SYNC"
        assert item["DestinationEndpoint"]["EngineName"] == item["SourceEndpoint"]["EngineName"]
        assert item["SourceEndpoint"]["Region"] == REGION
        assert isinstance(item["Delay"], int) and 0 <= item["Delay"] < 300
        assert item["Checkpoint"] == str(int(clock() - item["Delay"]))  # a string (SDK type)
        assert item["DtsJobId"] and item["CreateTime"].endswith("Z")
        for stage in ("Structure", "Data"):
            assert item[f"{stage}InitializationStatus"]["Status"] in ("NotStarted", "Migrating")
        status = demo.v1(INIT, {"SynchronizationJobId": item["DtsInstanceID"]}).json()
        assert status["Success"] is True


def test_demo_migration_job_is_not_a_sync_job(demo: Signer) -> None:
    migration = listed(demo, Region=REGION)
    assert migration["TotalRecordCount"] == 1
    job = migration["DtsJobList"][0]
    assert (job["JobType"], job["Status"]) == ("MIGRATION", "Migrating")
    assert job["DtsInstanceID"] == DEMO_MIGRATION_JOB_ID
    assert job["Delay"] >= 1000  # milliseconds
    assert job["DestinationEndpoint"]["EngineName"] == "PolarDB"
    sync = listed(demo, Region=REGION, JobType="SYNC")["DtsJobList"]
    sync_ids = {item["DtsInstanceID"] for item in sync}
    assert job["DtsInstanceID"] not in sync_ids
    assert listed(demo, Region="cn-shanghai", JobType="SYNC")["TotalRecordCount"] == 0


def test_demo_delay_waves_and_progress_advances(demo: Signer, clock: Clock) -> None:
    delays: list[int] = []
    checkpoints: list[int] = []
    for minute in range(0, 20):
        clock.offset = minute * 60
        first = listed(demo, Region=REGION, JobType="SYNC")["DtsJobList"][0]
        delays.append(first["Delay"])
        checkpoints.append(int(first["Checkpoint"]))
        assert first["Checkpoint"] == str(int(clock() - first["Delay"]))
    assert len(set(delays)) > 10
    assert min(delays) < 20 and 100 < max(delays) < 150  # falls behind, catches up
    assert checkpoints == sorted(checkpoints)
    clock.offset = 6 * 3600
    later = listed(demo, Region=REGION, JobType="SYNC")["DtsJobList"]
    assert all(item["DataInitializationStatus"]["Status"] == "Finished" for item in later)
    assert all(item["DataInitializationStatus"]["Percent"] == "100" for item in later)


# --- scenario validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dts_jobs: [1]\n",
            "dts_jobs: expected a mapping of region to DtsJobList entries, got list",
        ),
        (
            "dts_jobs: {cn-hangzhou: {a: 1}}\n",
            "dts_jobs.cn-hangzhou: expected a list of DtsJobList entries, got mapping",
        ),
        ("dts_jobs: {cn-hangzhou: [1]}\n", "dts_jobs.cn-hangzhou[0]: expected a mapping, got int"),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: SYNC}, {DtsJobId: a}]}\n",
            "dts_jobs.cn-hangzhou[1].JobType: missing (one of MIGRATION, SYNC, SUBSCRIBE)",
        ),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: ETL}]}\n",
            "dts_jobs.cn-hangzhou[0].JobType: expected one of MIGRATION, SYNC, SUBSCRIBE, "
            "got 'ETL'",
        ),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: SYNC, SourceEndpoint: rds}]}\n",
            "dts_jobs.cn-hangzhou[0].SourceEndpoint: expected a mapping, got string",
        ),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: SYNC, CreateTime: 2024-01-01}]}\n",
            "dts_jobs.cn-hangzhou[0].CreateTime: unsupported value of type date "
            "(quote it to keep it as a string)",
        ),
        (
            "check_jobs: [1]\n",
            "check_jobs: expected a mapping of DtsInstanceID to CheckJobs entries, got list",
        ),
        (
            "check_jobs: {dtsi1: {CheckType: 1}}\n",
            "check_jobs.dtsi1: expected a list of CheckJobs entries, got mapping",
        ),
        ("check_jobs: {dtsi1: [3]}\n", "check_jobs.dtsi1[0]: expected a mapping, got int"),
        (
            "check_jobs: {dtsi1: [{DiffCount: 3}]}\n",
            "check_jobs.dtsi1[0].CheckType: missing (1 full or 2 incremental)",
        ),
        (
            "check_jobs: {dtsi1: [{CheckType: 3}]}\n",
            "check_jobs.dtsi1[0].CheckType: expected 1 (full) or 2 (incremental), got 3",
        ),
        (
            "check_jobs: {dtsi1: [{CheckType: true}]}\n",
            "check_jobs.dtsi1[0].CheckType: expected 1 (full) or 2 (incremental), got True",
        ),
        ("dts_job_details: [1]\n", "dts_job_details: expected a mapping of id to body, got list"),
        ("dts_job_details: {dtsi1: 2}\n", "dts_job_details.dtsi1: expected a mapping, got int"),
        (
            "dts_job_details: {dtsi1: {RetryState: true}}\n",
            "dts_job_details.dtsi1.RetryState: expected a mapping, got boolean",
        ),
        (
            "dts_job_details: {dtsi1: {SubSyncJob: [x]}}\n",
            "dts_job_details.dtsi1.SubSyncJob[0]: expected a mapping, got string",
        ),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: SYNC, TagList: {a: b}}]}\n",
            "dts_jobs.cn-hangzhou[0].TagList: expected a list, got mapping",
        ),
        (
            "dts_jobs: {cn-hangzhou: [{JobType: SYNC, Performance: 3}]}\n",
            "dts_jobs.cn-hangzhou[0].Performance: expected a mapping, got int",
        ),
    ],
)
def test_scenario_validation_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert str(caught.value) == f"{path}: {message}"


def test_scenario_dts_jobs_load(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "dts_jobs:\n  cn-hangzhou:\n    - {JobType: SYNC, DtsInstanceID: dtsiA, Delay: 3}\n"
        "  cn-beijing: []\n"
    )
    scenario = load_scenario(str(path))
    assert scenario.dts_jobs == {
        "cn-hangzhou": ({"JobType": "SYNC", "DtsInstanceID": "dtsiA", "Delay": 3},),
        "cn-beijing": (),
    }
    assert scenario.jobs == {} and scenario.tasks == {}
