"""Lifecycle and resilience through real processes: SIGTERM with a scrape in flight,
config reload (SIGHUP; POST /-/reload with --web.enable-lifecycle, else 403) keeping the
old config when the new one is bad, serve-stale, a graceful start with the API unreachable,
and the insecure-file warning."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET
from tests.conftest import DEMO_ENV, Scrape, job_list, make_tables
from tests.procs import Process, free_port, run_cli

pytestmark = pytest.mark.slow  # starts the simulator and exporters as processes


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[str]:
    scenario = {
        "jobs": {name: {"DataInitializationDetails": make_tables(2)} for name in ("dtsa", "dtsb")},
        "dts_jobs": job_list("dtsa", "dtsb"),
    }
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    port = free_port()
    process = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--scenario",
            str(tmp_path / "scenario.json"),
        ],
        tmp_path / "sim.log",
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/_simulator/requests")
    yield url
    process.stop()


def write_config(path: Path, sim: str, **settings: object) -> Path:
    path.write_text(
        yaml.safe_dump({"region": "cn-hangzhou", "endpoint": sim, "max_retries": 0, **settings})
    )
    return path


def start(tmp_path: Path, config: Path, *extra: str) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        ["serve", "--config", str(config), "--listen-address", f"127.0.0.1:{port}", *extra],
        tmp_path / f"exporter-{port}.log",
        env=DEMO_ENV,
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/healthz")
    return process, url


def ups(url: str) -> dict[str, float | None]:
    data = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
    return {
        job: data.get("dts_up", action=INIT, job_id=job, task_id="") for job in ("dtsa", "dtsb")
    }


def test_sigterm_lets_the_scrape_in_flight_finish_and_exits_zero(tmp_path: Path, sim: str) -> None:
    requests.put(
        f"{sim}/_simulator/faults",
        data=json.dumps({"dtsa": [{"kind": "latency", "seconds": 2}]}),
        timeout=5,
    )
    process, url = start(tmp_path, write_config(tmp_path / "c.yaml", sim, jobs=[{"id": "dtsa"}]))
    answer: list[requests.Response] = []
    scrape = threading.Thread(
        target=lambda: answer.append(requests.get(f"{url}/metrics", timeout=30))
    )
    scrape.start()
    time.sleep(0.5)  # the scrape is waiting on the slow API
    process.proc.send_signal(signal.SIGTERM)
    scrape.join(30)
    assert answer and answer[0].status_code == 200
    assert (
        Scrape.from_text(answer[0].text).get("dts_up", action=INIT, job_id="dtsa", task_id="") == 1
    )
    assert process.proc.wait(30) == 0
    assert 'msg="shutting down" signal=SIGTERM' in process.output()


@pytest.mark.parametrize("how", ["SIGHUP", "POST"])
def test_reload_applies_a_good_config_and_keeps_the_old_on_a_bad_one(
    tmp_path: Path, sim: str, how: str
) -> None:
    config = write_config(tmp_path / "c.yaml", sim, jobs=[{"id": "dtsa"}])
    process, url = start(tmp_path, config, *(["--web.enable-lifecycle"] if how == "POST" else []))
    try:
        assert ups(url) == {"dtsa": 1, "dtsb": None}

        def reload() -> requests.Response | None:
            if how == "POST":
                return requests.post(f"{url}/-/reload", timeout=30)
            process.proc.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            return None

        write_config(config, sim, jobs=[{"id": "dtsa"}, {"id": "dtsb"}])
        answer = reload()
        if answer is not None:
            assert (answer.status_code, answer.text) == (200, "config reloaded\n")
        assert ups(url) == {"dtsa": 1, "dtsb": 1}

        config.write_text("region: cn-hangzhou\njobs: [{name: missing-id}]\n")
        answer = reload()
        if answer is not None:
            assert answer.status_code == 500
            assert answer.text.startswith("reload rejected, old config kept: ")
            assert "jobs[0].id: missing required key" in answer.text
        assert ups(url) == {"dtsa": 1, "dtsb": 1}  # the old config is still in force
        assert "config reload rejected, keeping the old config" in process.output()
        assert process.proc.poll() is None
        assert requests.get(f"{url}/-/reload", timeout=5).status_code == 405
        if how == "SIGHUP":  # no --web.enable-lifecycle: signals only
            assert requests.post(f"{url}/-/reload", timeout=5).status_code == 403
    finally:
        process.stop()


def test_serve_stale_keeps_the_last_values_for_a_while(tmp_path: Path, sim: str) -> None:
    config = write_config(tmp_path / "c.yaml", sim, jobs=[{"id": "dtsa"}], stale_seconds=3)
    process, url = start(tmp_path, config)
    try:
        first = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        success = first.get(
            "dts_last_success_timestamp_seconds", action=INIT, job_id="dtsa", task_id=""
        )
        assert success is not None
        requests.put(
            f"{sim}/_simulator/faults",
            data=json.dumps({"dtsa": [{"kind": "throttling"}]}),
            timeout=5,
        )
        stale = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert stale.get("dts_up", action=INIT, job_id="dtsa", task_id="") == 0
        assert stale.get("dts_data_initialization_tables", job_id="dtsa", status="Migrating") == 2
        assert (
            stale.get("dts_last_success_timestamp_seconds", action=INIT, job_id="dtsa", task_id="")
            == success
        )
        time.sleep(3.5)
        expired = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert (
            expired.get("dts_data_initialization_tables", job_id="dtsa", status="Migrating") is None
        )
        assert (
            expired.get(
                "dts_last_success_timestamp_seconds", action=INIT, job_id="dtsa", task_id=""
            )
            == success
        )
    finally:
        process.stop()


def test_without_stale_a_failure_blanks_the_job(tmp_path: Path, sim: str) -> None:
    process, url = start(tmp_path, write_config(tmp_path / "c.yaml", sim, jobs=[{"id": "dtsa"}]))
    try:
        requests.get(f"{url}/metrics", timeout=30)
        requests.put(
            f"{sim}/_simulator/faults",
            data=json.dumps({"dtsa": [{"kind": "throttling"}]}),
            timeout=5,
        )
        data = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert data.get("dts_data_initialization_tables", job_id="dtsa", status="Migrating") is None
        assert (
            data.get("dts_last_success_timestamp_seconds", action=INIT, job_id="dtsa", task_id="")
            is not None
        )
    finally:
        process.stop()


def test_graceful_start_with_the_api_unreachable(tmp_path: Path) -> None:
    closed = free_port()
    config = write_config(tmp_path / "c.yaml", f"http://127.0.0.1:{closed}", jobs=[{"id": "dtsa"}])
    process, url = start(tmp_path, config)
    try:
        for _ in range(3):
            assert ups(url)["dtsa"] == 0
        assert process.proc.poll() is None
    finally:
        assert process.stop() == 0


def test_a_readable_secret_file_is_warned_about(tmp_path: Path, sim: str) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        sim,
        jobs=[{"id": "dtsa"}],
        credentials={
            "access_key_id": DEMO_ACCESS_KEY_ID,
            "access_key_secret": DEMO_ACCESS_KEY_SECRET,
        },
    )
    os.chmod(config, 0o644)
    result = run_cli(["check", "--config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    process, _ = start(tmp_path, config)
    try:
        assert (
            "holds an AccessKey secret but is readable by group or others (mode 644)"
            in process.output()
        )
        assert DEMO_ACCESS_KEY_SECRET not in process.output()
    finally:
        process.stop()
    os.chmod(config, 0o600)
    process, _ = start(tmp_path, config)
    try:
        assert "readable by group or others" not in process.output()
    finally:
        process.stop()
