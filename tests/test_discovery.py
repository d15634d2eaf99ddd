"""Discovery against the simulator: paging, filtering, units, merging, failure handling."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dts_exporter.actions import NAMES, dts_jobs
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.check import DISCOVERED_CHECKED, Report, run_checks
from dts_exporter.collection.discovery import Discovery
from dts_exporter.config import Config, DiscoveryConfig, JobConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import SimulatorServer
from dts_exporter.simulator.scenario import Fault
from dts_exporter.startup import Exporter, build_exporter, make_client
from tests.conftest import DEMO_CREDS, Scrape, make_tables, start_scenario


def dts_job(i: int, name: str) -> dict[str, Any]:
    return {
        "DtsJobId": f"job{i:04d}",
        "DtsInstanceID": f"dtsi{i:04d}",
        "DtsJobName": name,
        "JobType": "SYNC",
        "Status": "Synchronizing",
        "Delay": 7,
        "Checkpoint": 1_790_000_000 + i,
        "SourceEndpoint": {"EngineName": "MySQL", "Region": "cn-hangzhou"},
        "DestinationEndpoint": {"EngineName": "PolarDB", "Region": "cn-hangzhou"},
    }


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    listed = [dts_job(i, f"prod-{i}" if i % 2 else f"staging-{i}") for i in range(130)]
    listed.append({**dts_job(999, "prod-archive"), "JobType": "MIGRATION", "Delay": 5000})
    jobs = {f"dtsi{i:04d}": {"DataInitializationDetails": make_tables(2)} for i in range(130)}
    jobs["dtsi0500"] = {"DataInitializationDetails": make_tables(1)}
    jobs["dtsstatic"] = {"DataInitializationDetails": make_tables(3)}
    scenario = {
        "dts_jobs": {"cn-hangzhou": listed, "cn-shanghai": [dts_job(500, "prod-sh")]},
        "jobs": jobs,
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def exporter(sim: SimulatorServer, **discovery: Any) -> Exporter:
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=(JobConfig("dtsstatic", "static one"), JobConfig("dtsi0001", "my name", ("task",))),
        discovery=DiscoveryConfig(**{"enabled": True, "regions": ("cn-hangzhou",), **discovery}),
        max_requests_per_second=0,
    )
    return build_exporter(config, DEMO_CREDS)


def info(data: Scrape) -> dict[str, dict[str, str]]:
    return {
        dict(labels)["job_id"]: dict(labels)
        for (name, labels), value in data.values.items()
        if name == "dts_job_info" and value == 1
    }


def test_discovery_pages_filters_and_merges(sim: SimulatorServer) -> None:
    e = exporter(sim, name_pattern="^prod-", regions=("cn-hangzhou", "cn-shanghai"))
    try:
        data = Scrape(e.registry)
        jobs = info(data)
        prod = {f"dtsi{i:04d}" for i in range(130) if i % 2} | {"dtsi0500"}
        assert set(jobs) == prod | {"dtsstatic"}  # the MIGRATION job is not a sync job
        # discovery: 130 jobs in pages of 30 (5 calls) + 1 page in cn-shanghai; job state:
        # the 66 monitored jobs of cn-hangzhou 30 ids a call (3) + 1 in cn-shanghai
        counts = sim.request_counts()
        assert counts["DescribeDtsJobs"] == 6 + 4
        assert counts["DescribeDtsJobDetail"] == 1  # dtsstatic: not a listed job
        assert data.get("dts_exporter_discovered_jobs", region="cn-hangzhou") == 65
        assert data.get("dts_exporter_discovered_jobs", region="cn-shanghai") == 1
        # discovered: engines and regions, status, delay (seconds for SYNC), checkpoint
        assert jobs["dtsi0003"] == {
            "job_id": "dtsi0003",
            "name": "prod-3",
            "region": "cn-hangzhou",
            "job_class": "",
            "source_engine": "MySQL",
            "source_region": "cn-hangzhou",
            "destination_engine": "PolarDB",
            "destination_region": "cn-hangzhou",
        }
        assert data.get("dts_job_status", job_id="dtsi0003", status="Synchronizing") == 1
        assert jobs["dtsi0500"]["region"] == "cn-shanghai"
        assert data.get("dts_job_delay_seconds", job_id="dtsi0003") == 7
        assert data.get("dts_job_checkpoint_timestamp_seconds", job_id="dtsi0003") == 1_790_000_003
        # a configured job keeps its own name and tasks
        assert jobs["dtsi0001"]["name"] == "my name"
        assert data.get("dts_up", action=INIT, job_id="dtsi0003", task_id="") == 1
        assert data.get("dts_up", action=INIT, job_id="dtsstatic", task_id="") == 1
    finally:
        e.close()


@pytest.mark.slow  # a second of retry backoff
def test_a_failed_refresh_keeps_the_last_list(sim: SimulatorServer) -> None:
    now = [1000.0]
    stats = ApiStats(NAMES)
    config = DiscoveryConfig(enabled=True, regions=("cn-hangzhou",), refresh_seconds=300)
    base = Config(region="cn-hangzhou", endpoint=sim.url, jobs=(), max_requests_per_second=0)
    client = make_client(base, DEMO_CREDS, stats)
    discovery = Discovery(config, client, clock=lambda: now[0])
    try:
        (first,) = discovery.regions()
        assert len(first.jobs) == 130 and first.last_success is not None
        now[0] += 100  # not due: no call
        discovery.regions()
        assert sim.request_counts()["DescribeDtsJobs"] == 5  # 130 jobs, 30 a page
        sim.set_faults({"DescribeDtsJobs": [Fault(kind="internal_error")]})
        now[0] += 300  # due: the refresh fails, the list stays
        (kept,) = discovery.regions()
        assert kept.jobs == first.jobs and kept.last_success == first.last_success
        assert stats.requests()[("DescribeDtsJobs", "InternalError")] == 4  # 1 + 3 retries
        sim.set_faults({})
        (again,) = discovery.regions()  # retried on the next collection, not in 300 s
        assert len(again.jobs) == 130 and again.last_success != first.last_success
    finally:
        client.close()


def test_only_synchronization_jobs_count_and_their_delay_is_in_seconds() -> None:
    body = {
        "TotalRecordCount": 2,
        "DtsJobList": [
            {"DtsInstanceID": "a", "JobType": "MIGRATION", "Delay": 1500},  # ms: left out
            {"DtsInstanceID": "b", "JobType": "SYNC", "Delay": "1500"},
            {"DtsJobId": "no-instance-id", "JobType": "sync"},
            {"JobType": "SYNC"},
        ],
    }
    listed = dts_jobs.parse(body, "cn-hangzhou")
    assert listed.total == 2
    assert [(j.job_id, j.delay_seconds) for j in listed.jobs] == [
        ("b", 1500.0),
        ("no-instance-id", None),
    ]


def test_unusable_fields_in_the_job_list_are_counted(tmp_path: Path) -> None:
    broken = {**dts_job(7, "prod-7"), "Delay": "soon", "Checkpoint": ["x"]}
    scenario = {
        "dts_jobs": {"cn-hangzhou": [broken, dts_job(8, "prod-8")]},
        "jobs": {"dtsi0007": {"DataInitializationDetails": make_tables(1)}},
    }
    sim = start_scenario(tmp_path, scenario)
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=(),
        discovery=DiscoveryConfig(enabled=True, regions=("cn-hangzhou",)),
        max_requests_per_second=0,
    )
    e = build_exporter(config, DEMO_CREDS)
    try:
        data = Scrape(e.registry)
        # two unusable fields, in two answers: discovery's list and the jobs' state
        assert data.get("dts_exporter_response_problems_total", action="DescribeDtsJobs") == 4
        assert data.get("dts_job_delay_seconds", job_id="dtsi0007") is None  # never invented
        assert data.get("dts_job_delay_seconds", job_id="dtsi0008") == 7
    finally:
        e.close()
        sim.close()


def check_discovery(sim: SimulatorServer, pattern: str) -> tuple[Config, Report]:
    """`check` on a discovery-only config listing cn-hangzhou with `pattern`."""
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=(),
        discovery=DiscoveryConfig(enabled=True, regions=("cn-hangzhou",), name_pattern=pattern),
        max_requests_per_second=0,
    )
    client = make_client(config, DEMO_CREDS)
    try:
        return config, run_checks(config, client)
    finally:
        client.close()


def test_check_tests_discovered_jobs_and_says_how_many_it_left(sim: SimulatorServer) -> None:
    _, report = check_discovery(sim, "^prod-")
    checked = {row.id for row in report.rows if row.action == INIT}
    assert len(checked) == DISCOVERED_CHECKED
    assert {row.action for row in report.rows} >= {
        "DescribeDtsJobs",
        INIT,
        "DescribeCheckJobs",
    }
    assert report.notes == [
        f"checked the first {DISCOVERED_CHECKED} of 65 discovered job(s) in cn-hangzhou; "
        "the others are called the same way"
    ]
    assert not report.monitors_nothing


def test_a_config_that_monitors_nothing_says_why(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    config, report = check_discovery(sim, "^nope")
    why = "name_pattern '^nope' matched none of the 130 synchronization job(s) in cn-hangzhou"
    assert report.monitors_nothing and report.notes == [f"monitors nothing: {why}"]
    e = build_exporter(config, DEMO_CREDS)
    try:
        with caplog.at_level(logging.INFO, logger="dts_exporter"):
            Scrape(e.registry)
            Scrape(e.registry)
        said = [r.getMessage() for r in caplog.records if "monitoring nothing" in r.getMessage()]
        assert said == [f'monitoring nothing reason="no jobs are configured and {why}"']
    finally:
        e.close()
