"""Staying cheap at scale: call counts with caching, settled ids, cardinality controls,
sharding and the /probe endpoint. Counts are asserted, never timings."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import generate_latest

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.collection.targets import shard_of
from dts_exporter.config import Config, JobConfig, JobStatusConfig, VerificationConfig
from dts_exporter.simulator import SimulatorServer
from dts_exporter.simulator.scenario import Fault
from dts_exporter.startup import Exporter, build_exporter
from dts_exporter.web import ExporterServer
from tests.conftest import BLANK_INFO, DEMO_CREDS, Scrape, make_tables, start_scenario
from tests.procs import run_cli


def finished_tables(count: int) -> list[dict[str, str]]:
    return [{**t, "Status": "Finished"} for t in make_tables(count)]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    mixed = make_tables(6) + finished_tables(4)
    for i, table in enumerate(mixed):  # distinct gaps: t00000 has the largest
        table["TotalRowNum"] = str(10_000 - i * 100)
        table["FinishRowNum"] = "100"
        table["TableName"] = f"t{i:05d}"
    scenario = {
        "jobs": {
            "dtsbusy": {"DataInitializationDetails": make_tables(3)},
            "dtsdone": {
                "DataInitializationDetails": finished_tables(3),
                "StructureInitializationDetails": [
                    {"ObjectType": "Table", "ObjectName": "t", "Status": "Finished"}
                ],
            },
            "dtsmixed": {"DataInitializationDetails": mixed},
        },
        "tasks": {
            "taskdone": {"Status": "Finished"},
            "taskrunning": {"Status": "Migrating"},
        },
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def make(sim: SimulatorServer, jobs: list[JobConfig], **settings: Any) -> Exporter:
    config = Config(region="cn-hangzhou", endpoint=sim.url, jobs=tuple(jobs), **settings)
    return build_exporter(config, DEMO_CREDS)


def calls(sim: SimulatorServer) -> int:
    return sum(sim.request_counts().get(a, 0) for a in (INIT, MODIFY))


def dts_lines(text: str) -> list[str]:
    """The exposition less prometheus-client's process and platform metrics."""
    kept = []
    for line in text.splitlines():
        words = line.split(" ")
        name = words[2] if line.startswith("#") else line.split("{")[0].split(" ")[0]
        if name.startswith("dts_"):
            kept.append(line)
    return kept


def test_cache_serves_a_second_scraper_without_calls(sim: SimulatorServer) -> None:
    e = make(sim, [JobConfig("dtsbusy", modify_tasks=("taskrunning",))], cache_seconds=60)
    try:
        first = generate_latest(e.registry).decode()
        assert calls(sim) == 2
        second = generate_latest(e.registry).decode()
        assert calls(sim) == 2  # served from the cache
        assert "Served from a cache of up to 60s" in first
        assert dts_lines(first) == dts_lines(second)  # process_* moves on between scrapes
    finally:
        e.close()


def test_without_cache_every_scrape_calls(sim: SimulatorServer) -> None:
    e = make(sim, [JobConfig("dtsbusy")], settled_refresh_seconds=0)
    try:
        for _ in range(3):
            text = generate_latest(e.registry).decode()
        assert calls(sim) == 3
        assert "Served from a cache" not in text
    finally:
        e.close()


def test_four_concurrent_scrapes_cost_one_set_of_calls(sim: SimulatorServer) -> None:
    sim.set_faults({"*": [Fault(kind="latency", seconds=0.3)]})
    e = make(sim, [JobConfig("dtsbusy", modify_tasks=("taskrunning",)), JobConfig("dtsmixed")])
    try:
        threads = [threading.Thread(target=generate_latest, args=(e.registry,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert calls(sim) == 3
    finally:
        e.close()


def test_settled_ids_are_rechecked_slowly(sim: SimulatorServer) -> None:
    jobs = [
        JobConfig("dtsdone", modify_tasks=("taskdone", "taskrunning")),
        JobConfig("dtsbusy"),
    ]
    e = make(sim, jobs, settled_refresh_seconds=600)
    try:
        first = Scrape(e.registry)
        assert calls(sim) == 4
        refreshed = first.get(
            "dts_last_refresh_timestamp_seconds", action=INIT, job_id="dtsdone", task_id=""
        )
        assert refreshed is not None
        for _ in range(3):
            later = Scrape(e.registry)
        # steady state: only the two ids still in progress are called (<= in progress + 1)
        assert calls(sim) == 4 + 3 * 2
        assert later.get("dts_exporter_settled_ids_reused") == 2
        # settled values are still exported, with the time they were fetched
        assert later.get("dts_data_initialization_tables", job_id="dtsdone", status="Finished") == 3
        assert (
            later.get(
                "dts_modify_task_status", job_id="dtsdone", task_id="taskdone", status="Finished"
            )
            == 1
        )
        assert (
            later.get(
                "dts_last_refresh_timestamp_seconds", action=INIT, job_id="dtsdone", task_id=""
            )
            == refreshed
        )
        busy_then = first.get(
            "dts_last_refresh_timestamp_seconds", action=INIT, job_id="dtsbusy", task_id=""
        )
        busy_now = later.get(
            "dts_last_refresh_timestamp_seconds", action=INIT, job_id="dtsbusy", task_id=""
        )
        assert busy_then is not None and busy_now is not None and busy_now > busy_then
    finally:
        e.close()


def per_table(data: Scrape, job_id: str) -> set[str]:
    return {
        dict(labels)["table"]
        for (name, labels), _ in data.values.items()
        if name == "dts_data_initialization_synced_rows" and dict(labels)["job_id"] == job_id
    }


@pytest.mark.parametrize(
    ("settings", "tables", "filtered", "capped"),
    [
        ({}, {f"t{i:05d}" for i in range(10)}, 0, 0),
        ({"table_metrics": "unfinished"}, {f"t{i:05d}" for i in range(6)}, 4, 0),
        ({"table_metrics": "none"}, set(), 10, 0),
        ({"max_table_series_per_job": 3}, {"t00000", "t00001", "t00002"}, 0, 7),
        (
            {"table_metrics": "unfinished", "max_table_series_per_job": 2},
            {"t00000", "t00001"},
            4,
            4,
        ),
    ],
)
def test_cardinality_controls(
    sim: SimulatorServer, settings: dict[str, Any], tables: set[str], filtered: int, capped: int
) -> None:
    e = make(sim, [JobConfig("dtsmixed")], **settings)
    try:
        data = Scrape(e.registry)
        assert per_table(data, "dtsmixed") == tables
        assert (
            data.get(
                "dts_data_initialization_table_series_omitted", job_id="dtsmixed", reason="filtered"
            )
            == filtered
        )
        assert (
            data.get(
                "dts_data_initialization_table_series_omitted", job_id="dtsmixed", reason="capped"
            )
            == capped
        )
        # per-status counts are always complete
        assert (
            data.get("dts_data_initialization_tables", job_id="dtsmixed", status="Migrating") == 6
        )
        assert data.get("dts_data_initialization_tables", job_id="dtsmixed", status="Finished") == 4
    finally:
        e.close()


def test_shard_assignment_is_stable_and_balanced() -> None:
    # pinned values: a changed hash would silently move jobs between running replicas
    assert [shard_of(f"dtsi{i:04d}", 4) for i in range(8)] == [0, 3, 1, 1, 1, 2, 0, 3]
    assert (shard_of("dtsi76118o3w92", 4), shard_of("dtsi76118o3w92", 3)) == (0, 2)
    spread = Counter(shard_of(f"dtsi{i:05d}", 4) for i in range(2000))
    assert set(spread) == {0, 1, 2, 3}
    assert all(400 <= n <= 600 for n in spread.values())


def test_shards_split_the_jobs_without_overlap(sim: SimulatorServer) -> None:
    ids = ["dtsbusy", "dtsdone", "dtsmixed"]
    seen: list[str] = []
    for index in range(2):
        config = Config(
            region="cn-hangzhou", endpoint=sim.url, jobs=tuple(JobConfig(i) for i in ids)
        )
        e = build_exporter(config, DEMO_CREDS, shard=(index, 2))
        try:
            data = Scrape(e.registry)
            mine = [
                i for i in ids if data.get("dts_up", action=INIT, job_id=i, task_id="") is not None
            ]
            assert mine == [i for i in ids if shard_of(i, 2) == index]
            seen.extend(mine)
        finally:
            e.close()
    assert sorted(seen) == sorted(ids)


def test_probe_endpoint(sim: SimulatorServer) -> None:
    e = make(sim, [JobConfig("dtsdone", "done job", ("taskdone",))], settled_refresh_seconds=0)
    server = ExporterServer(e, "127.0.0.1", 0)
    server.start()
    base = server.url()
    try:
        text = requests.get(f"{base}/probe?job_id=dtsbusy&task_id=taskrunning", timeout=10).text
        data = Scrape.from_text(text)
        assert data.get("dts_up", action=INIT, job_id="dtsbusy", task_id="") == 1
        assert data.get("dts_up", action=MODIFY, job_id="dtsbusy", task_id="taskrunning") == 1
        assert data.get("dts_up", action=INIT, job_id="dtsdone", task_id="") is None
        assert "dts_exporter_api_requests_total" not in text  # exporter counters stay on /metrics
        # a configured job brings its name and modify tasks
        data = Scrape.from_text(requests.get(f"{base}/probe?job_id=dtsdone", timeout=10).text)
        assert data.get("dts_up", action=MODIFY, job_id="dtsdone", task_id="taskdone") == 1
        info = {
            "name": "done job",
            "region": "cn-hangzhou",
            **BLANK_INFO,
        }
        assert data.get("dts_job_info", job_id="dtsdone", **info) == 1
        as_target = Scrape.from_text(requests.get(f"{base}/probe?target=dtsbusy", timeout=10).text)
        assert as_target.get("dts_up", action=INIT, job_id="dtsbusy", task_id="") == 1
        for bad in [
            "",
            "?job_id=",
            "?job_id=a&job_id=b",
            "?job_id=a&target=b",
            "?job_id=x%20y",
            "?job_id=a&region=Mars",
        ]:
            response = requests.get(f"{base}/probe{bad}", timeout=10)
            assert response.status_code == 400, bad
            assert response.text.startswith("400 ")
        before = calls(sim)
        threads = [
            threading.Thread(
                target=requests.get, args=(f"{base}/probe?job_id=dtsmixed",), kwargs={"timeout": 10}
            )
            for _ in range(4)
        ]
        sim.set_faults({"*": [Fault(kind="latency", seconds=0.3)]})
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert calls(sim) - before == 1  # concurrent probes of one target share a collection
    finally:
        server.close()
        e.close()


@pytest.mark.slow  # runs the CLI as a process
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard-index", "1"], "--shard-index and --shard-count go together"),
        (
            ["--shard-index", "4", "--shard-count", "4"],
            "--shard-index must be a number from 0 to 3",
        ),
        (["--shard-index", "hostname", "--shard-count", "2"], "does not end in a number"),
    ],
)
def test_shard_options_are_validated(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "c.yaml").write_text("region: cn-hangzhou\njobs: [{id: a}]\n")
    result = run_cli(
        ["serve", "--config", str(tmp_path / "c.yaml"), *args], env={"HOSTNAME": "exporter"}
    )
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("setting", "expected"), [("all", 5 * 10 + 14), ("unfinished", 5 * 6 + 14), ("none", 14)]
)
def test_series_per_job_match_the_readme_table(
    sim: SimulatorServer, setting: str, expected: int
) -> None:
    """dtsmixed: 10 tables (6 unfinished), no schema objects (K=0), no failures; the job's
    own state and verification are counted by the next test."""
    e = make(
        sim,
        [JobConfig("dtsmixed")],
        table_metrics=setting,
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
    )
    try:
        data = Scrape(e.registry)
        series = [labels for (_, labels) in data.values if dict(labels).get("job_id") == "dtsmixed"]
        assert len(series) == expected
    finally:
        e.close()


def test_series_of_job_state_and_verification_match_the_readme_table(tmp_path: Path) -> None:
    """33 + 5 per verification kind (+1 while retrying, +1 per error code) for the state,
    3 + 4 per check job for verification: here 2 kinds, retrying, 1 code, 1 check job."""
    entry = {
        "DtsInstanceID": "dtsstate",
        "JobType": "SYNC",
        "Status": "Retrying",
        "Delay": 5,
        "Checkpoint": 1_790_000_000,
        "Performance": {"Rps": "1", "Flow": "1"},
        "RetryState": {
            "Retrying": True,
            "RetryCount": 1,
            "RetryTime": 1,
            "MaxRetryTime": 60,
            "RetryTarget": "destDB",
            "Module": "03",
        },
        "ErrorDetails": [{"ErrorCode": "DTS-31009"}],
        "FullDataCheckStatus": {"Status": "Finished", "Percent": "100"},
        "IncDataCheckStatus": {"Status": "Checking", "Percent": "10"},
        "CpuUsage": "1",
        "MemUsage": "1",
        "DuUsage": "1",
        "MaxDu": "4",
        "ExpireTime": "2030-01-01T00:00:00Z",
    }
    check = {"DtsInstanceID": "dtsstate", "CheckType": 1, "Status": 0, "DiffCount": 0}
    check.update({"FinishCount": 10, "TotalCount": 10})
    scenario = {
        "jobs": {"dtsstate": {"DataInitializationDetails": []}},
        "dts_jobs": {"cn-hangzhou": [entry]},
        "check_jobs": {"dtsstate": [{**check, "JobStepId": "s1"}]},
    }
    server = start_scenario(tmp_path, scenario)
    e = make(server, [JobConfig("dtsstate")])
    try:
        data = Scrape(e.registry)
        state = [
            name
            for (name, labels) in data.values
            if dict(labels).get("job_id") == "dtsstate"
            and (
                (name.startswith("dts_job_") and name != "dts_job_info")
                or dict(labels).get("action") == "DescribeDtsJobs"
            )
        ]
        assert len(state) == 33 + 5 * 2 + 1 + 1
        checks = [
            name
            for (name, labels) in data.values
            if dict(labels).get("job_id") == "dtsstate"
            and (
                name.startswith("dts_data_verification_")
                or dict(labels).get("action") == "DescribeCheckJobs"
            )
        ]
        assert len(checks) == 3 + 4 * 1
    finally:
        e.close()
        server.close()


def test_series_per_task_match_the_readme_table(tmp_path: Path) -> None:
    """34 + P for a task reporting every stage, with P precheck items."""
    body = {
        "Status": "Migrating",
        "PrecheckStatus": {
            "Status": "Finished",
            "Percent": "100",
            "Detail": [{"CheckStatus": "Success", "ItemName": f"CHECK_{i}"} for i in range(5)],
        },
        "StructureInitializationStatus": {"Status": "Finished", "Percent": "100", "Progress": "3"},
        "DataInitializationStatus": {"Status": "Migrating", "Percent": "40", "Progress": "900"},
        "DataSynchronizationStatus": {"Status": "Migrating", "Percent": "0", "Delay": "3"},
    }
    scenario = {"jobs": {"j": {"DataInitializationDetails": []}}, "tasks": {"k": body}}
    server = start_scenario(tmp_path, scenario)
    e = make(server, [JobConfig("j", modify_tasks=("k",))])
    try:
        data = Scrape(e.registry)
        series = [labels for (_, labels) in data.values if dict(labels).get("task_id") == "k"]
        assert len(series) == 34 + 5
    finally:
        e.close()
        server.close()
