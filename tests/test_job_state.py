"""A job's own state from DescribeDtsJobs and DescribeDtsJobDetail, as metric values."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from dts_exporter.actions import check_jobs, dts_job_detail, dts_jobs
from dts_exporter.actions.job_state import SYNC_STATUSES
from dts_exporter.base.families import DEFAULT_OPTIONS, Builder, Options
from dts_exporter.base.records import Result, Target
from dts_exporter.config import JobConfig
from dts_exporter.exposition import build_families
from dts_exporter.snapshot import Snapshot
from tests.conftest import StaticCollector


def listed_job(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "DtsInstanceID": "dtsi0001",
        "DtsJobId": "job0001",
        "DtsJobName": "orders",
        "JobType": "SYNC",
        "DtsJobClass": "medium",
        "Status": "Synchronizing",
        "Delay": 42,
        "Checkpoint": 1_790_000_000,
        "Performance": {"Rps": "120", "Flow": "1.5"},
        "RetryState": {"Retrying": False, "RetryCount": 0, "RetryTime": 0, "MaxRetryTime": 43200},
        "FullDataCheckStatus": {"Status": "Finished", "Percent": "100"},
        "IncDataCheckStatus": {"Status": "Checking", "Percent": "40"},
        "CpuUsage": "35",
        "MemUsage": "512",
        "ExpireTime": "2027-01-01T00:00:00Z",
        "SourceEndpoint": {"EngineName": "MySQL", "Region": "cn-hangzhou"},
        "DestinationEndpoint": {"EngineName": "PolarDB", "Region": "cn-shanghai"},
        "TagList": [{"TagKey": "team", "TagValue": "payments"}],
    }
    entry.update(fields)
    return entry


def registry(b: Builder) -> CollectorRegistry:
    r = CollectorRegistry()
    r.register(StaticCollector(b.families()))
    return r


def expose(entry: dict[str, Any], options: Options = DEFAULT_OPTIONS) -> CollectorRegistry:
    (state,) = dts_jobs.parse({"DtsJobList": [entry], "TotalRecordCount": 1}, "cn-hangzhou").jobs
    b = Builder()
    dts_jobs.ACTION.families(b, Target(state.job_id), state, options)
    return registry(b)


def test_a_listed_job_becomes_its_series() -> None:
    r = expose(listed_job())
    job = {"job_id": "dtsi0001"}
    assert r.get_sample_value("dts_job_status", {**job, "status": "Synchronizing"}) == 1
    for status in SYNC_STATUSES:
        if status != "Synchronizing":
            assert r.get_sample_value("dts_job_status", {**job, "status": status}) == 0
    assert r.get_sample_value("dts_job_delay_seconds", job) == 42  # seconds for SYNC
    assert r.get_sample_value("dts_job_checkpoint_timestamp_seconds", job) == 1_790_000_000
    assert r.get_sample_value("dts_job_records_per_second", job) == 120
    assert r.get_sample_value("dts_job_bytes_per_second", job) == 1.5 * 1_048_576
    assert r.get_sample_value("dts_job_retrying", job) == 0
    assert r.get_sample_value("dts_job_retry_max_duration_seconds", job) == 43200
    assert r.get_sample_value("dts_job_cpu_usage_ratio", job) == 0.35
    assert r.get_sample_value("dts_job_memory_usage_bytes", job) == 512 * 1_048_576
    assert r.get_sample_value("dts_job_expire_timestamp_seconds", job) == 1_798_761_600
    full = {**job, "kind": "full"}
    assert r.get_sample_value("dts_job_verification_status", {**full, "status": "Finished"}) == 1
    assert r.get_sample_value("dts_job_verification_progress_ratio", full) == 1.0
    inc = {**job, "kind": "incremental"}
    assert r.get_sample_value("dts_job_verification_progress_ratio", inc) == 0.4
    assert r.get_sample_value("dts_job_verification_status", {**inc, "status": "Checking"}) == 1


def test_an_unknown_status_is_kept_as_its_own_series() -> None:
    r = expose(listed_job(Status="Hibernating"))
    job = {"job_id": "dtsi0001"}
    assert r.get_sample_value("dts_job_status", {**job, "status": "Hibernating"}) == 1
    assert r.get_sample_value("dts_job_status", {**job, "status": "Synchronizing"}) == 0


def test_retries_and_errors_have_bounded_labels() -> None:
    retrying = {
        "Retrying": "true",
        "RetryCount": "7",
        "RetryTime": "420",
        "MaxRetryTime": "43200",
        "RetryTarget": "destDB",
        "Module": "04",
        "ErrMessage": "Communications link failure to 10.0.0.1",
    }
    r = expose(
        listed_job(
            Status="Retrying",
            RetryState=retrying,
            ErrorDetails=[
                {"ErrorCode": "DTS-1020042", "HelpUrl": "https://example.invalid/x"},
                {"ErrorCode": "something long and free text", "HelpUrl": ""},
            ],
            ErrorMessage="DTS-1020042 write failed on the destination",
        )
    )
    job = {"job_id": "dtsi0001"}
    assert r.get_sample_value("dts_job_retrying", job) == 1
    assert r.get_sample_value("dts_job_retry_count", job) == 7
    assert r.get_sample_value("dts_job_retry_duration_seconds", job) == 420
    target = {**job, "target": "destDB", "module": "04"}
    assert r.get_sample_value("dts_job_retry_target", target) == 1
    assert r.get_sample_value("dts_job_error", {**job, "code": "DTS-1020042"}) == 1
    assert r.get_sample_value("dts_job_error", {**job, "code": "Other"}) == 1
    odd = expose(listed_job(RetryState={**retrying, "RetryTarget": "mars", "Module": "a b c"}))
    other = {**job, "target": "Other", "module": "Other"}
    assert odd.get_sample_value("dts_job_retry_target", other) == 1


def test_migration_jobs_are_left_out_and_each_job_counts_once() -> None:
    body = {
        "DtsJobList": [
            listed_job(),
            listed_job(DtsInstanceID="dtsmig", JobType="MIGRATION", Delay=5000),
            listed_job(DtsInstanceID="dtsmig2", JobType="online", Delay=5000),
            listed_job(Delay=99),  # listed twice: the first wins
        ],
        "TotalRecordCount": 4,
    }
    listed = dts_jobs.parse(body, "cn-hangzhou")
    assert [(j.job_id, j.delay_seconds) for j in listed.jobs] == [("dtsi0001", 42)]


def test_the_detail_gives_its_delay_in_milliseconds_and_throughput_per_subjob() -> None:
    body = {
        "DtsInstanceID": "dtsi0001",
        "DtsJobName": "orders",
        "Status": "Synchronizing",
        "Delay": 42000,
        "Checkpoint": 1_790_000_000,
        "SubSyncJob": [
            {"Performance": {"Rps": "100", "Flow": "1"}},
            {"Performance": {"Rps": "20", "Flow": "0.5"}},
        ],
        "Success": True,
    }
    state = dts_job_detail.parse(body, "cn-hangzhou")
    assert state.delay_seconds == 42
    assert state.records_per_second == 120
    assert state.bytes_per_second == 1.5 * 1_048_576
    assert state.problems == ()


def test_unusable_fields_are_noted_not_invented() -> None:
    (state,) = dts_jobs.parse(
        {"DtsJobList": [listed_job(Delay="soon", ExpireTime="next week", CpuUsage=[])]},
        "cn-hangzhou",
    ).jobs
    assert state.delay_seconds is None and state.expire_timestamp is None
    assert state.cpu_ratio is None
    assert len(state.problems) == 3


def test_verification_check_jobs() -> None:
    body = {
        "CheckJobs": [
            {
                "DtsInstanceID": "dtsi0001",
                "CheckType": 1,
                "Status": 1,
                "DiffCount": 3,
                "FinishCount": 1000,
                "TotalCount": 1000,
                "JobStepId": "step1",
            },
            {"CheckType": "2", "Status": "0", "DiffCount": "0", "JobStepId": "step2"},
        ],
        "TotalRecordCount": 2,
    }
    record = check_jobs.parse(body)
    b = Builder()
    check_jobs.families(b, Target("dtsi0001"), record, DEFAULT_OPTIONS)
    r = registry(b)
    full = {"job_id": "dtsi0001", "check_type": "full", "check_job": "step1"}
    assert r.get_sample_value("dts_data_verification_diff_rows", full) == 3
    assert r.get_sample_value("dts_data_verification_checked_rows", full) == 1000
    assert r.get_sample_value("dts_data_verification_total_rows", full) == 1000
    assert r.get_sample_value("dts_data_verification_passed", full) == 0
    inc = {"job_id": "dtsi0001", "check_type": "incremental", "check_job": "step2"}
    assert r.get_sample_value("dts_data_verification_passed", inc) == 1
    assert check_jobs.summary(record) == "2 verification(s), 3 differing rows"


def test_tags_on_info_become_labels_of_dts_job_info_only() -> None:
    entry = listed_job(
        TagList=[
            {"TagKey": "team", "TagValue": "payments"},
            {"TagKey": "cost-center", "TagValue": "42"},
            {"TagKey": "unasked", "TagValue": "x"},
        ]
    )
    (state,) = dts_jobs.parse({"DtsJobList": [entry]}, "cn-hangzhou").jobs
    job = JobConfig("dtsi0001")
    snapshot = Snapshot(
        region="cn-hangzhou",
        jobs=(job,),
        results=(Result("DescribeDtsJobs", Target("dtsi0001"), state, None),),
        duration_seconds=0.1,
    )
    options = Options(info_tags=("team", "cost-center", "absent"))
    r = CollectorRegistry()
    r.register(StaticCollector(build_families(snapshot, None, options)))
    labels = {
        "job_id": "dtsi0001",
        "name": "orders",
        "region": "cn-hangzhou",
        "job_class": "medium",
        "source_engine": "MySQL",
        "source_region": "cn-hangzhou",
        "destination_engine": "PolarDB",
        "destination_region": "cn-shanghai",
        "tag_team": "payments",
        "tag_cost_center": "42",
        "tag_absent": "",
    }
    assert r.get_sample_value("dts_job_info", labels) == 1
    tagged = [
        s.name
        for family in r.collect()
        for s in family.samples
        if any(name.startswith("tag_") for name in s.labels)
    ]
    assert tagged == ["dts_job_info"]


def test_a_broken_structure_is_noted_with_its_place() -> None:
    (state,) = dts_jobs.parse(
        {"DtsJobList": [listed_job(RetryState="retrying", Performance=[1])]}, "cn-hangzhou"
    ).jobs
    assert state.retry is None and state.records_per_second is None
    assert state.problems == (
        "DtsJobList[0].Performance: a list is not an object",
        "DtsJobList[0].RetryState: a string is not an object",
    )
    detail = dts_job_detail.parse({"DtsInstanceID": "a", "SubSyncJob": "many"}, "cn-hangzhou")
    assert detail.problems == (".SubSyncJob: a string is not a list",)
