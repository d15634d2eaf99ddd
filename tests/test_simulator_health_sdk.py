"""Job health through the OFFICIAL SDK: DescribeDtsJobs, DescribeDtsJobDetail and
DescribeCheckJobs answers load into the SDK's response models, and the request rules
reach the SDK as the service's errors. Every test runs with signature v3 and v2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    SimulatorServer,
    parse_scenario,
    start_simulator,
)
from tests.simulator_signer import Clock, Signer
from tests.test_sdk_conformance import assert_contains, make_client, runtime

dts_models = pytest.importorskip("alibabacloud_dts20200101.models")
sdk_exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")

pytestmark = pytest.mark.usefixtures("no_proxy")

REGION = "cn-hangzhou"
ANALYTICS = "dtsi04analytics6r1t"
CATALOG = "dtsi03catalog3p9w"
AK = "LTAI5tHealthSdkTest"
SECRET = "health-sdk-test-secret"


@pytest.fixture(scope="module")
def demo() -> Iterator[SimulatorServer]:
    simulator = start_simulator("127.0.0.1", 0)
    yield simulator
    simulator.close()


@pytest.fixture(params=["v3", "v2"])
def client(request: pytest.FixtureRequest, demo: SimulatorServer) -> Any:
    return make_client(
        demo, request.param, access_key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_ACCESS_KEY_SECRET
    )


def dts_jobs(client: Any, **options: Any) -> Any:
    request = dts_models.DescribeDtsJobsRequest(region=REGION, **options)
    return client.describe_dts_jobs_with_options(request, runtime()).body


def detail(client: Any, **options: Any) -> Any:
    request = dts_models.DescribeDtsJobDetailRequest(region_id=REGION, **options)
    return client.describe_dts_job_detail_with_options(request, runtime()).body


def check_jobs(client: Any, **options: Any) -> Any:
    request = dts_models.DescribeCheckJobsRequest(**options)
    return client.describe_check_jobs_with_options(request, runtime()).body


def refusal(call: Any, client: Any, **options: Any) -> tuple[int, str]:
    with pytest.raises(sdk_exceptions.ClientException) as caught:
        call(client, **options)
    return caught.value.status_code, caught.value.code


def test_describe_dts_jobs_loads_the_health_fields(client: Any) -> None:
    body = dts_jobs(client, job_type="SYNC", page_size=30, without_db_list=True)
    assert isinstance(body, dts_models.DescribeDtsJobsResponseBody)
    assert (body.total_record_count, body.page_record_count, body.page_number) == (4, 4, 1)
    jobs = {job.dts_job_name: job for job in body.dts_job_list}
    billing = jobs["billing"]
    assert isinstance(billing, dts_models.DescribeDtsJobsResponseBodyDtsJobList)
    assert (billing.status, billing.job_type, billing.dts_instance_id) == (
        "Retrying",
        "SYNC",
        "dtsi02billing5m7q",
    )
    retry = billing.retry_state
    assert (retry.retrying, retry.retry_target, retry.module) == (True, "destDB", "03")
    assert retry.retry_count > 0 and retry.retry_time > 0 and retry.max_retry_time > 0
    assert retry.job_id == billing.dts_job_id and retry.err_message
    assert billing.error_details[0].error_code.startswith("DTS-")
    assert billing.error_details[0].help_url and billing.error_message
    assert (billing.pay_type, billing.expire_time[-1]) == ("PrePaid", "Z")
    catalog = jobs["catalog"]
    assert catalog.full_data_check_status.status == "Finished"
    assert catalog.full_data_check_status.percent == "100"
    assert catalog.inc_data_check_status.status == "NotStarted"
    assert catalog.structure_data_check_status.progress == "0"
    for job in body.dts_job_list:
        assert job.db_object is None  # WithoutDbList
        assert int(job.checkpoint) > 0 and job.delay >= 0 and job.create_time
        assert float(job.performance.rps) >= 0 and float(job.performance.flow) >= 0
        assert float(job.cpu_usage) >= 0 and float(job.mem_usage) > 0
        assert job.du_usage >= 0 and job.max_du >= job.min_du > 0
        assert {(tag.tag_key, bool(tag.tag_value)) for tag in job.tag_list} == {
            ("team", True),
            ("env", True),
        }
        assert (job.source_endpoint.region, job.destination_endpoint.region) == (REGION, REGION)
        assert job.source_endpoint.engine_name and job.source_endpoint.instance_id
        assert job.dts_job_class and job.dts_job_id
    assert jobs["analytics"].status == "Suspending"
    with_db = dts_jobs(client, job_type="SYNC", page_size=30)
    assert all(job.db_object for job in with_db.dts_job_list)


def test_describe_dts_job_detail_loads(client: Any) -> None:
    body = detail(client, dts_instance_id=ANALYTICS, sync_sub_job_history=False)
    assert isinstance(body, dts_models.DescribeDtsJobDetailResponseBody)
    assert (body.success, body.http_status_code, body.status) == (True, 200, "Suspending")
    assert body.delay >= 200_000  # milliseconds
    assert isinstance(body.checkpoint, int)
    assert body.retry_state.retrying is False
    assert (body.dts_instance_id, body.dts_job_name, body.dts_job_class) == (
        ANALYTICS,
        "analytics",
        "medium",
    )
    assert body.source_endpoint.engine_name == "MySQL" and body.pay_type == "PostPaid"
    [sub] = body.sub_sync_job
    assert (sub.performance.rps, sub.delay, sub.checkpoint) == (
        "0",
        body.delay,
        str(body.checkpoint),
    )
    by_job_id = detail(client, dts_job_id=body.dts_job_id)
    assert by_job_id.dts_instance_id == ANALYTICS


def test_describe_check_jobs_loads(client: Any) -> None:
    body = check_jobs(client, instance_id=CATALOG, check_type=3, page_size=30)
    assert isinstance(body, dts_models.DescribeCheckJobsResponseBody)
    assert (body.total_record_count, body.page_number, body.page_record_count) == (1, 1, 1)
    [job] = body.check_jobs
    assert (job.dts_instance_id, job.check_type, job.status, job.diff_count) == (CATALOG, 1, 1, 3)
    assert job.finish_count == job.total_count > 0 and job.check_point > 0
    assert job.job_step_id and job.job_name and job.dts_job_id
    assert check_jobs(client, instance_id=ANALYTICS, check_type=3).check_jobs == []


def test_request_rules_reach_the_sdk(client: Any) -> None:
    assert refusal(dts_jobs, client, job_type="SYNC", page_size=100) == (400, "InvalidParameter")
    assert refusal(dts_jobs, client, job_type="CHECK") == (400, "InvalidParameter")
    assert dts_jobs(client, job_type="SYNC", page_size=30).page_record_count == 4
    assert refusal(check_jobs, client, instance_id=CATALOG, check_type=4) == (
        400,
        "InvalidParameter",
    )
    assert refusal(check_jobs, client, instance_id=CATALOG, page_size=40) == (
        400,
        "InvalidParameter",
    )
    assert refusal(detail, client) == (400, "MissingParameter")


def test_nothing_the_demo_sends_is_lost_by_the_sdk_models(demo: SimulatorServer) -> None:
    """Every field of the demo's answers is one the SDK's response models know."""
    signer = Signer(demo, Clock(), DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    calls: list[tuple[Any, str, dict[str, str]]] = [
        (dts_models.DescribeDtsJobsResponseBody, "DescribeDtsJobs", {"Region": REGION}),
        (
            dts_models.DescribeDtsJobsResponseBody,
            "DescribeDtsJobs",
            {"Region": REGION, "JobType": "SYNC", "PageSize": "30"},
        ),
        (dts_models.DescribeCheckJobsResponseBody, "DescribeCheckJobs", {"InstanceId": CATALOG}),
    ]
    listed = signer.v1("DescribeDtsJobs", {"Region": REGION, "JobType": "SYNC"}).json()
    for job in listed["DtsJobList"]:
        calls.append(
            (
                dts_models.DescribeDtsJobDetailResponseBody,
                "DescribeDtsJobDetail",
                {"DtsInstanceID": job["DtsInstanceID"]},
            )
        )
    for model, action, params in calls:
        raw = signer.v1(action, params).json()
        assert_contains(model().from_map(raw).to_map(), raw, f"{action}{params}")


# --- a scenario with 130 synchronization jobs ------------------------------------------------


def _entry(index: int, job_type: str) -> dict[str, Any]:
    return {
        "DtsJobId": f"sdkjob{index:04d}",
        "DtsInstanceID": f"dtsi{index:04d}sdkhealth",
        "DtsJobName": f"job-{index}",
        "JobType": job_type,
        "Status": "Synchronizing",
        "Delay": index,
        "Checkpoint": str(1_700_000_000 + index),
    }


@pytest.fixture(scope="module")
def many() -> Iterator[SimulatorServer]:
    jobs = [_entry(i, "SYNC") for i in range(130)] + [_entry(999, "MIGRATION")]
    scenario = parse_scenario({"dts_jobs": {REGION: jobs}}, "130 jobs")
    simulator = start_simulator(
        "127.0.0.1", 0, access_key_id=AK, access_key_secret=SECRET, scenario=scenario
    )
    yield simulator
    simulator.close()


@pytest.mark.parametrize("algorithm", ["v3", "v2"])
def test_130_jobs_paged_and_filtered_through_the_sdk(many: SimulatorServer, algorithm: str) -> None:
    client = make_client(many, algorithm, access_key_id=AK, secret=SECRET)
    seen: list[str] = []
    for page in range(1, 6):
        body = dts_jobs(client, job_type="SYNC", page_size=30, page_number=page)
        assert (body.total_record_count, body.page_number) == (130, page)
        assert body.page_record_count == (10 if page == 5 else 30)
        seen += [job.dts_instance_id for job in body.dts_job_list]
    assert seen == [f"dtsi{i:04d}sdkhealth" for i in range(130)]
    wanted = [f"dtsi{i:04d}sdkhealth" for i in (5, 64, 129)]
    body = dts_jobs(
        client,
        job_type="SYNC",
        page_size=30,
        dts_instance_id=",".join([*wanted, "dtsi0999sdkhealth"]),
    )
    assert [job.dts_instance_id for job in body.dts_job_list] == wanted
    assert body.total_record_count == 3
