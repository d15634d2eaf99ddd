"""End to end: real simulator and exporter processes, scraped over HTTP as Prometheus would."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.simulator import DEMO_ACCESS_KEY_SECRET, DEMO_JOBS, FAULT_KINDS
from tests.conftest import BLANK_INFO, DEMO_ENV, Scrape, job_list, load_fixture, make_tables
from tests.procs import Process, free_port, run_cli

pytestmark = pytest.mark.slow  # starts the simulator and exporters as processes

# One job per fault kind the simulator can inject, beside healthy ones.
FAULTS: dict[str, tuple[dict[str, object], str]] = {
    "dtsthrottling": ({"kind": "throttling"}, "Throttling.User"),
    "dtsinternal": ({"kind": "internal_error"}, "InternalError"),
    "dtsunavailable": ({"kind": "service_unavailable"}, "ServiceUnavailable"),
    "dtsslow": ({"kind": "latency", "seconds": 5}, "Timeout"),
    "dtsmalformed": ({"kind": "malformed"}, "InvalidResponse"),
    "dtssuccessfalse": ({"kind": "success_false"}, "InternalError"),
    "dtspage2": ({"kind": "throttling", "pages": [2]}, "Throttling.User"),
    "dtstruncated": ({"kind": "truncated"}, "InvalidResponse"),
    "dtshtml": ({"kind": "html"}, "HTTP502"),
    "dtsreset": ({"kind": "reset"}, "ConnectionError"),
}


def test_every_simulator_fault_kind_is_exercised() -> None:
    assert {fault["kind"] for fault, _ in FAULTS.values()} == set(FAULT_KINDS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("e2e")
    jobs: dict[str, object] = {
        "dtsgood": load_fixture("describe_initialization_status.json"),
        "dtsbig": {"DataInitializationDetails": make_tables(230)},
    }
    jobs.update({job_id: {"DataInitializationDetails": make_tables(230)} for job_id in FAULTS})
    scenario = {
        "jobs": jobs,
        "tasks": {"taskgood": load_fixture("describe_modify_status.json")},
        "dts_jobs": job_list(*jobs),
        "faults": {job_id: [fault] for job_id, (fault, _) in FAULTS.items()},
    }
    (tmp / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    sim_port, exp_port = free_port(), free_port()
    sim = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{sim_port}",
            "--scenario",
            str(tmp / "scenario.yaml"),
        ],
        tmp / "simulator.log",
    )
    sim.wait_http(f"http://127.0.0.1:{sim_port}/")
    config = {
        "region": "cn-hangzhou",
        "endpoint": f"http://127.0.0.1:{sim_port}",
        "timeout_seconds": 2,
        "scrape_timeout_seconds": 4,
        "jobs": [
            {"id": "dtsgood", "name": "orders", "modify_tasks": ["taskgood"]},
            {"id": "dtsbig"},
            *({"id": job_id} for job_id in FAULTS),
        ],
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    exporter = Process(
        [
            "serve",
            "--config",
            str(tmp / "config.yaml"),
            "--listen-address",
            f"127.0.0.1:{exp_port}",
        ],
        tmp / "exporter.log",
        env=DEMO_ENV,
    )
    url = f"http://127.0.0.1:{exp_port}"
    exporter.wait_http(f"{url}/healthz")
    yield url, tmp
    assert exporter.stop() == 0, exporter.output()
    sim.stop()


def test_metrics_over_http(stack: tuple[str, Path]) -> None:
    url, _ = stack
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    data = Scrape.from_text(response.text)
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1
    assert data.get("dts_up", action=MODIFY, job_id="dtsgood", task_id="taskgood") == 1
    assert data.get("dts_up", action=INIT, job_id="dtsbig", task_id="") == 1
    assert data.get("dts_data_initialization_tables", job_id="dtsbig", status="Migrating") == 230
    assert (
        data.get(
            "dts_data_initialization_row_gap",
            job_id="dtsgood",
            source_db="dtstestdata",
            dest_db="dtstestdata",
            table="customer",
        )
        == -12
    )
    info = BLANK_INFO
    assert (
        data.get("dts_job_info", job_id="dtsgood", name="orders", region="cn-hangzhou", **info) == 1
    )


@pytest.mark.parametrize("job_id", sorted(FAULTS))
def test_each_fault_fails_only_its_job_with_the_right_code(
    stack: tuple[str, Path], job_id: str
) -> None:
    url, _ = stack
    data = Scrape.from_text(requests.get(f"{url}/metrics", timeout=10).text)
    assert data.get("dts_up", action=INIT, job_id=job_id, task_id="") == 0
    assert data.get("dts_data_initialization_tables", job_id=job_id, status="Migrating") is None
    code = FAULTS[job_id][1]
    count = data.get("dts_exporter_api_requests_total", action=INIT, code=code)
    assert count is not None and count >= 1
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1


def test_failures_are_logged_with_id_action_and_code(stack: tuple[str, Path]) -> None:
    url, tmp = stack
    requests.get(f"{url}/metrics", timeout=10)
    log = (tmp / "exporter.log").read_text()
    line = next(
        line for line in log.splitlines() if "job_id=dtsthrottling" in line and "failed" in line
    )
    assert f"action={INIT}" in line and "code=Throttling.User" in line
    assert DEMO_ACCESS_KEY_SECRET not in log


def test_landing_health_and_unknown_paths(stack: tuple[str, Path]) -> None:
    url, _ = stack
    landing = requests.get(f"{url}/", timeout=5)
    assert landing.status_code == 200 and 'href="metrics"' in landing.text
    assert requests.get(f"{url}/healthz", timeout=5).text == "ok\n"
    assert requests.get(f"{url}/nope", timeout=5).status_code == 404
    assert requests.post(f"{url}/metrics", timeout=5).status_code == 405


def test_promtool_accepts_the_live_exposition(stack: tuple[str, Path]) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not installed: the test command installs Debian's prometheus package"
        )
    url, _ = stack
    body = requests.get(f"{url}/metrics", timeout=10).content
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == b"" and result.stderr.strip() == b""


def test_check_command_reports_each_id(stack: tuple[str, Path]) -> None:
    _, tmp = stack
    result = run_cli(["check", "--config", str(tmp / "config.yaml")], env=DEMO_ENV)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("dtsgood ") and " ok " in line for line in lines)
    assert any(
        line.startswith("dtsthrottling ") and "FAILED" in line and "Throttling.User" in line
        for line in lines
    )
    # per job: its initialization, its state, its verification; per task: its status. The
    # faults hit each faulty job's initialization only.
    passed = 3 + 1 + 3 + 2 * len(FAULTS)
    assert f"{passed} passed, {len(FAULTS)} failed" in result.stdout
    assert DEMO_ACCESS_KEY_SECRET not in result.stdout + result.stderr


def test_check_exits_zero_when_all_succeed(stack: tuple[str, Path]) -> None:
    _, tmp = stack
    config = yaml.safe_load((tmp / "config.yaml").read_text())
    config["jobs"] = config["jobs"][:2]
    (tmp / "healthy.yaml").write_text(yaml.safe_dump(config))
    result = run_cli(["check", "--config", str(tmp / "healthy.yaml")], env=DEMO_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed, 0 failed" in result.stdout


def test_demo_command_serves_the_built_in_scenario(tmp_path: Path) -> None:
    port = free_port()
    demo = Process(["demo", "--listen-address", f"127.0.0.1:{port}"], tmp_path / "demo.log")
    try:
        demo.wait_http(f"http://127.0.0.1:{port}/healthz")
        data = Scrape.from_text(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        for job in DEMO_JOBS:
            assert data.get("dts_up", action=INIT, job_id=job.job_id, task_id="") == 1
            for task in job.task_ids:
                assert data.get("dts_up", action=MODIFY, job_id=job.job_id, task_id=task) == 1
        # The demo's config lists its jobs statically (no discovery): each job's own state
        for job in DEMO_JOBS:
            one = {"job_id": job.job_id}
            assert data.get("dts_up", action="DescribeDtsJobs", task_id="", **one) == 1
            assert data.get("dts_job_delay_seconds", **one) is not None
            assert data.get("dts_job_checkpoint_timestamp_seconds", **one) is not None
            assert data.get("dts_job_records_per_second", **one) is not None
            assert data.get("dts_job_bytes_per_second", **one) is not None
            assert data.get("dts_job_retrying", **one) is not None
            assert data.get("dts_up", action="DescribeCheckJobs", task_id="", **one) == 1
        billing, catalog, analytics = DEMO_JOBS[1].job_id, DEMO_JOBS[2].job_id, DEMO_JOBS[3].job_id
        assert data.get("dts_job_status", job_id=billing, status="Retrying") == 1
        assert data.get("dts_job_retrying", job_id=billing) == 1
        assert data.get("dts_job_error", job_id=billing, code="DTS-070212") == 1
        assert data.get("dts_job_status", job_id=analytics, status="Suspending") == 1
        diff = [
            value
            for (name, labels), value in data.values.items()
            if name == "dts_data_verification_diff_rows" and dict(labels)["job_id"] == catalog
        ]
        assert diff == [3]
        assert f"http://127.0.0.1:{port}/metrics" in demo.output()
    finally:
        assert demo.stop() == 0


def test_config_may_be_json_and_must_list_jobs(tmp_path: Path) -> None:
    # The config loader reads JSON too (YAML is a superset).
    (tmp_path / "c.json").write_text(json.dumps({"region": "cn-hangzhou", "jobs": []}))
    result = run_cli(["serve", "--config", str(tmp_path / "c.json")], env=DEMO_ENV)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "jobs: no jobs configured; list at least one SynchronizationJobId or enable discovery"
    )


def test_prometheus_scrape_timeout_header_caps_the_collection(stack: tuple[str, Path]) -> None:
    """With a 2 s announced timeout the exporter answers within it (its own limit is 4 s):
    the slow job reads dts_up 0, the healthy ones are intact."""
    url, _ = stack
    response = requests.get(
        f"{url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"}, timeout=3
    )
    data = Scrape.from_text(response.text)
    assert data.get("dts_up", action=INIT, job_id="dtsslow", task_id="") == 0
    assert data.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1
    duration = data.get("dts_exporter_scrape_duration_seconds")
    assert duration is not None and duration <= 2.0


def test_a_bad_scrape_timeout_header_is_ignored(stack: tuple[str, Path]) -> None:
    url, _ = stack
    response = requests.get(
        f"{url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "soon"}, timeout=10
    )
    assert response.status_code == 200
    assert (
        Scrape.from_text(response.text).get("dts_up", action=INIT, job_id="dtsgood", task_id="")
        == 1
    )
