"""The official Alibaba Cloud SDK cannot tell the simulator from the real endpoint.

Every test runs twice: with the SDK's default signature (ACS3-HMAC-SHA256, `do_request`)
and with `signature_algorithm="v2"` (the RPC signature v1 path, `do_rpcrequest`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_JOBS,
    Fault,
    Scenario,
    SimulatorServer,
    load_scenario,
    parse_scenario,
    start_simulator,
)
from tests.conftest import FIXTURES

dts_client = pytest.importorskip("alibabacloud_dts20200101.client")
dts_models = pytest.importorskip("alibabacloud_dts20200101.models")
open_api_models = pytest.importorskip("alibabacloud_tea_openapi.models")
sdk_exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
dara_runtime = pytest.importorskip("darabonba.runtime")

pytestmark = pytest.mark.usefixtures("no_proxy")  # the SDK honours proxy variables

AK = "LTAI5tSdkConformance"
SECRET = "sdk-conformance-secret"
TOKEN = "sts-conformance-token"
SAMPLE_JOB = "dtsi76118o3w92"
SAMPLE_TASK = "k71r16fj13g"
PAGING_JOB = "dtsi05paging7k3m"
PRECHECK_TASK = "k71r16fj13gq"
LISTS = (
    "StructureInitializationDetails",
    "DataInitializationDetails",
    "DataSynchronizationDetails",
)
REGION = "cn-hangzhou"
SYNC_JOBS = 25


def _dts_job(index: int, job_type: str) -> dict[str, Any]:
    """A DescribeDtsJobs `DtsJobList` entry shaped like the API page's sample."""
    return {
        "DtsJobId": f"l3m1213ye7l{index:04d}",
        "DtsInstanceID": f"dtsi{index:02d}sdkdisc{job_type[:4].lower()}",
        "DtsJobName": f"{job_type.lower()}-job-{index}",
        "Status": "Synchronizing" if job_type == "SYNC" else "Migrating",
        "JobType": job_type,
        "Delay": 1000 + index,
        "Checkpoint": 1_700_000_000 + index,
        "ErrorMessage": "",
        "CreateTime": "2024-03-16T08:01:34Z",
        "PayType": "PostPaid",
        "DtsJobClass": "small",
        "SourceEndpoint": {
            "EngineName": "MySQL",
            "InstanceType": "RDS",
            "InstanceID": f"rm-bp1sdk{index:04d}",
            "Region": REGION,
            "DatabaseName": "shop",
        },
        "DestinationEndpoint": {
            "EngineName": "PolarDB",
            "InstanceType": "POLARDB",
            "InstanceID": f"pc-bp1sdk{index:04d}",
            "Region": REGION,
            "DatabaseName": "shop",
        },
        "DataInitializationStatus": {"Status": "Finished", "Percent": "100", "Progress": "9"},
        "StructureInitializationStatus": {"Status": "Finished", "Percent": "100", "Progress": "3"},
        "DataSynchronizationStatus": {"Status": "Migrating", "Percent": "95", "Progress": "0"},
    }


DTS_JOBS = {REGION: [_dts_job(i, "SYNC") for i in range(SYNC_JOBS)] + [_dts_job(99, "MIGRATION")]}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The API pages' samples (as a JSON scenario) plus the YAML test scenario."""
    samples = {
        "jobs": {SAMPLE_JOB: _fixture_json("describe_initialization_status.json")},
        "tasks": {SAMPLE_TASK: _fixture_json("describe_modify_status.json")},
    }
    path = tmp_path_factory.mktemp("scenario") / "samples.json"
    path.write_text(json.dumps(samples, indent=2))
    from_samples = load_scenario(str(path))
    from_yaml = load_scenario(str(FIXTURES / "simulator_scenario.yaml"))
    return Scenario(
        jobs={**from_samples.jobs, **from_yaml.jobs},
        tasks={**from_samples.tasks, **from_yaml.tasks},
        dts_jobs=parse_scenario({"dts_jobs": DTS_JOBS}, "dts_jobs").dts_jobs,
    )


def _fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.fixture(scope="module")
def server(scenario: Scenario) -> Iterator[SimulatorServer]:
    simulator = start_simulator(
        "127.0.0.1", 0, access_key_id=AK, access_key_secret=SECRET, scenario=scenario
    )
    yield simulator
    simulator.close()


@pytest.fixture(autouse=True)
def _clear_faults(server: SimulatorServer) -> Iterator[None]:
    yield
    server.set_faults({})


@pytest.fixture(params=["v3", "v2"])
def algorithm(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def make_client(
    server: SimulatorServer,
    algorithm: str,
    *,
    access_key_id: str = AK,
    secret: str = SECRET,
    token: str | None = None,
    queries: dict[str, str] | None = None,
) -> Any:
    config = open_api_models.Config(
        access_key_id=access_key_id,
        access_key_secret=secret,
        security_token=token,
        endpoint=server.url.removeprefix("http://"),
        protocol="http",
        region_id="cn-hangzhou",
        read_timeout=5000,
        connect_timeout=2000,
    )
    if queries:
        config.global_parameters = open_api_models.GlobalParameters(queries=queries)
    if algorithm == "v2":
        config.signature_algorithm = "v2"
    return dts_client.Client(config)


def runtime() -> Any:
    # No retry_options on the Config: the SDK makes exactly one attempt.
    return dara_runtime.RuntimeOptions(read_timeout=5000, connect_timeout=2000)


def describe_job(client: Any, job_id: str, **paging: int) -> Any:
    request = dts_models.DescribeInitializationStatusRequest(
        synchronization_job_id=job_id, region_id="cn-hangzhou", **paging
    )
    return client.describe_initialization_status_with_options(request, runtime())


def describe_task(client: Any, task_id: str) -> Any:
    request = dts_models.DescribeSynchronizationObjectModifyStatusRequest(
        task_id=task_id, region_id="cn-hangzhou"
    )
    return client.describe_synchronization_object_modify_status_with_options(request, runtime())


def describe_dts_jobs(client: Any, **options: Any) -> Any:
    request = dts_models.DescribeDtsJobsRequest(region=REGION, **options)
    return client.describe_dts_jobs_with_options(request, runtime())


def assert_contains(actual: Any, expected: Any, where: str = "body") -> None:
    """Every field of `expected` is in the SDK's `to_map()` with the same value."""
    if isinstance(expected, Mapping):
        assert isinstance(actual, Mapping), where
        for key, value in expected.items():
            if value is not None:
                assert key in actual, f"{where}.{key}"
                assert_contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(got, want, f"{where}[{index}]")
    else:
        assert actual == expected, where


def test_sample_initialization_status_parses(
    server: SimulatorServer, scenario: Scenario, algorithm: str
) -> None:
    response = describe_job(make_client(server, algorithm), SAMPLE_JOB)
    assert response.status_code == 200
    body = response.body
    assert isinstance(body, dts_models.DescribeInitializationStatusResponseBody)
    assert body.success is True
    assert body.request_id == response.headers["x-acs-request-id"]
    data = body.data_initialization_details[0]
    assert (data.table_name, data.total_row_num, data.finish_row_num) == (
        "customer",
        "9981",
        "9993",
    )
    structure = body.structure_initialization_details[0]
    assert structure.object_definition.startswith("CREATE TABLE `dtstestdata`.`customer`")
    expected = {k: v for k, v in scenario.jobs[SAMPLE_JOB].items() if k != "RequestId"}
    assert_contains(body.to_map(), expected)


def test_sample_modify_status_parses(
    server: SimulatorServer, scenario: Scenario, algorithm: str
) -> None:
    body = describe_task(make_client(server, algorithm), SAMPLE_TASK).body
    assert body.status == "Migrating"
    assert body.precheck_status.status == "Finished"
    assert [item.item_name for item in body.precheck_status.detail][:2] == [
        "CHECK_CONN_SRC",
        "CHECK_CONN_DEST",
    ]
    assert body.data_initialization_status.percent == "100"
    expected = {k: v for k, v in scenario.tasks[SAMPLE_TASK].items() if k != "RequestId"}
    assert_contains(body.to_map(), expected)


def test_recorded_types_and_nested_constraints_survive(
    server: SimulatorServer, scenario: Scenario, algorithm: str
) -> None:
    body = describe_job(make_client(server, algorithm), PAGING_JOB, page_size=100).body
    assert body.success == "true"
    constraints = body.structure_initialization_details[0].constraints
    assert [item.object_type for item in constraints] == ["Index", "Constraint"]
    assert constraints[1].error_message.endswith('type "geometry" does not exist')
    assert body.data_initialization_details[2].total_row_num == 250000
    expected = {k: v for k, v in scenario.jobs[PAGING_JOB].items() if k != "RequestId"}
    assert_contains(body.to_map(), expected)
    task = describe_task(make_client(server, algorithm), PRECHECK_TASK).body
    failed = task.precheck_status.detail[0]
    assert (failed.check_status, failed.repair_method) == (
        "Failed",
        "CHECK_ERROR_DEST_CONN_REPAIR2",
    )


def test_paging(server: SimulatorServer, scenario: Scenario, algorithm: str) -> None:
    client = make_client(server, algorithm)
    stored = scenario.jobs[PAGING_JOB]
    for page_num, size in ((1, 2), (2, 2), (3, 1)):
        body = describe_job(client, PAGING_JOB, page_size=2, page_num=page_num).body.to_map()
        for name in LISTS:
            names = [item.get("TableName") or item.get("ObjectName") for item in body[name]]
            window = stored[name][(page_num - 1) * 2 : page_num * 2]
            assert len(names) == size
            assert names == [item.get("TableName") or item.get("ObjectName") for item in window]


def test_unknown_job_is_a_business_error(server: SimulatorServer, algorithm: str) -> None:
    body = describe_job(make_client(server, algorithm), "dtsinosuchjob").body
    assert (body.success, body.err_code) == (False, "InvalidJobId")


def test_wrong_secret_raises_signature_does_not_match(
    server: SimulatorServer, algorithm: str
) -> None:
    client = make_client(server, algorithm, secret="not-the-secret")
    with pytest.raises(sdk_exceptions.ClientException) as caught:
        describe_job(client, SAMPLE_JOB)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400
    assert "server string to sign is:" in caught.value.message


def test_unknown_access_key(server: SimulatorServer, algorithm: str) -> None:
    client = make_client(server, algorithm, access_key_id="LTAI5tNobodyKnowsMe")
    with pytest.raises(sdk_exceptions.ClientException) as caught:
        describe_task(client, SAMPLE_TASK)
    assert (caught.value.code, caught.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_throttling_reaches_the_sdk_with_retry_after(
    server: SimulatorServer, algorithm: str
) -> None:
    server.set_faults({SAMPLE_TASK: [Fault("throttling", retry_after_ms=1200)]})
    with pytest.raises(sdk_exceptions.ThrottlingException) as caught:
        describe_task(make_client(server, algorithm), SAMPLE_TASK)
    assert caught.value.code == "Throttling.User"
    assert caught.value.retry_after == 1200


def test_server_errors_reach_the_sdk(server: SimulatorServer, algorithm: str) -> None:
    server.set_faults({SAMPLE_TASK: [Fault("service_unavailable")]})
    with pytest.raises(sdk_exceptions.ServerException) as caught:
        describe_task(make_client(server, algorithm), SAMPLE_TASK)
    assert (caught.value.code, caught.value.status_code) == ("ServiceUnavailable", 503)


def test_xml_error_body_is_parsed_by_the_sdk(server: SimulatorServer) -> None:
    """The v3 path parses `text/xml;charset=utf-8` errors as XML: ours must fit."""
    client = make_client(server, "v3", secret="not-the-secret", queries={"Format": "XML"})
    with pytest.raises(sdk_exceptions.ClientException) as caught:
        describe_task(client, SAMPLE_TASK)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.data["HostId"] == server.url.removeprefix("http://")


def test_security_token(scenario: Scenario, algorithm: str) -> None:
    simulator = start_simulator(
        "127.0.0.1",
        0,
        access_key_id=AK,
        access_key_secret=SECRET,
        security_token=TOKEN,
        scenario=scenario,
    )
    try:
        ok = describe_task(make_client(simulator, algorithm, token=TOKEN), SAMPLE_TASK)
        assert ok.body.success is True
        with pytest.raises(sdk_exceptions.ClientException) as caught:
            describe_task(make_client(simulator, algorithm, token="other"), SAMPLE_TASK)
        assert caught.value.code == "InvalidSecurityToken.Mismatch"
    finally:
        simulator.close()


def test_demo_serves_the_sdk(algorithm: str) -> None:
    simulator = start_simulator("127.0.0.1", 0)
    try:
        client = make_client(
            simulator, algorithm, access_key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_ACCESS_KEY_SECRET
        )
        for job in DEMO_JOBS:
            body = describe_job(client, job.job_id, page_size=100).body
            assert body.success is True
            assert len(body.data_initialization_details) >= 8
            for task_id in job.task_ids:
                assert describe_task(client, task_id).body.status
        assert simulator.request_counts() == {
            "DescribeInitializationStatus": len(DEMO_JOBS),
            "DescribeSynchronizationObjectModifyStatus": sum(len(j.task_ids) for j in DEMO_JOBS),
        }
    finally:
        simulator.close()


# --- DescribeDtsJobs (discovery) ------------------------------------------------------------


def test_describe_dts_jobs_pages_through_the_sdk(server: SimulatorServer, algorithm: str) -> None:
    client = make_client(server, algorithm)
    seen: list[str] = []
    for page, size in ((1, 10), (2, 10), (3, 5)):
        response = describe_dts_jobs(client, job_type="SYNC", page_size=10, page_number=page)
        body = response.body
        assert isinstance(body, dts_models.DescribeDtsJobsResponseBody)
        assert (body.success, body.http_status_code) == (True, 200)
        assert body.request_id == response.headers["x-acs-request-id"]
        assert (body.total_record_count, body.page_number, body.page_record_count) == (
            SYNC_JOBS,
            page,
            size,
        )
        window = DTS_JOBS[REGION][(page - 1) * 10 : (page - 1) * 10 + size]
        assert_contains(body.to_map()["DtsJobList"], window)
        job = body.dts_job_list[0]
        assert isinstance(job, dts_models.DescribeDtsJobsResponseBodyDtsJobList)
        assert job.source_endpoint.engine_name == "MySQL"
        assert job.destination_endpoint.engine_name == "PolarDB"
        assert job.data_initialization_status.percent == "100"
        seen += [item.dts_instance_id for item in body.dts_job_list]
    assert seen == [item["DtsInstanceID"] for item in DTS_JOBS[REGION][:SYNC_JOBS]]
    migration = describe_dts_jobs(client).body  # JobType defaults to MIGRATION
    assert [item.job_type for item in migration.dts_job_list] == ["MIGRATION"]
    assert migration.dts_job_list[0].delay == 1099


def test_describe_dts_jobs_throttling_reaches_the_sdk(
    server: SimulatorServer, algorithm: str
) -> None:
    server.set_faults({"DescribeDtsJobs": [Fault("throttling", retry_after_ms=900)]})
    with pytest.raises(sdk_exceptions.ThrottlingException) as caught:
        describe_dts_jobs(make_client(server, algorithm), job_type="SYNC")
    assert caught.value.retry_after == 900
    assert describe_job(make_client(server, algorithm), SAMPLE_JOB).body.success is True


def test_demo_discovery_through_the_sdk(algorithm: str) -> None:
    simulator = start_simulator("127.0.0.1", 0)
    try:
        client = make_client(
            simulator, algorithm, access_key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_ACCESS_KEY_SECRET
        )
        body = describe_dts_jobs(client, job_type="SYNC", page_size=30).body
        assert body.total_record_count == len(DEMO_JOBS)
        ids = [item.dts_instance_id for item in body.dts_job_list]
        assert ids == [job.job_id for job in DEMO_JOBS]
        for job_id in ids:
            assert describe_job(client, job_id).body.success is True
        assert simulator.request_counts() == {
            "DescribeDtsJobs": 1,
            "DescribeInitializationStatus": len(DEMO_JOBS),
        }
    finally:
        simulator.close()
