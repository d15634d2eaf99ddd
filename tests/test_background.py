"""Background collection (`collection_interval_seconds`): scrapes serve the latest complete
collection without API calls; off by default."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from dts_exporter.actions import NAMES
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.collection.background import Background
from dts_exporter.collection.fanout import Collection
from dts_exporter.config import Config, JobConfig
from dts_exporter.lifecycle import Runtime
from dts_exporter.scrape import DtsCollector
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import SimulatorServer
from dts_exporter.snapshot import Snapshot
from dts_exporter.startup import Exporter, build_exporter, start
from tests.conftest import DEMO_CREDS, DEMO_ENV, Scrape, job_list, make_tables, start_scenario
from tests.procs import Process, free_port

STAMP = "dts_exporter_background_collection_timestamp_seconds"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    scenario = {
        "jobs": {"dtsa": {"DataInitializationDetails": make_tables(150)}},
        "dts_jobs": job_list("dtsa"),
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def make_exporter(url: str, **overrides: Any) -> Exporter:
    config = Config(region="cn-hangzhou", endpoint=url, jobs=(JobConfig("dtsa"),), **overrides)
    return build_exporter(config, DEMO_CREDS)


def calls(sim: SimulatorServer) -> int:
    return sum(sim.request_counts().values())


def dts_values(scrape: Scrape) -> dict[Any, float]:
    """Every DTS series (the exporter's own counters and process series left out)."""
    return {
        key: value
        for key, value in scrape.values.items()
        if key[0].startswith("dts_") and not key[0].startswith("dts_exporter_")
    }


def background_threads() -> int:
    return sum(t.name == "dts-background" and t.is_alive() for t in threading.enumerate())


def wait_until_background_threads(count: int) -> None:
    for _ in range(200):  # 10 s at most
        if background_threads() == count:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{background_threads()} background threads, wanted {count}")


def wait_for_collections(exporter: Exporter, count: int) -> None:
    background = exporter.background
    assert background is not None
    for _ in range(200):  # 10 s at most
        if background.completed >= count:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{background.completed} background collections, wanted {count}")


def test_off_by_default_every_scrape_collects(sim: SimulatorServer) -> None:
    assert Config(region="cn-hangzhou").collection_interval_seconds == 0
    exporter = make_exporter(sim.url)
    try:
        assert exporter.background is None
        assert calls(sim) == 0  # nothing collects on its own
        first = Scrape(exporter.registry)
        after_one = calls(sim)
        assert after_one > 0
        Scrape(exporter.registry)
        assert calls(sim) > after_one  # the second scrape called too
        assert first.get(STAMP) is None  # on demand: no background timestamp
    finally:
        exporter.close()


def test_scrapes_make_no_api_calls_and_serve_the_same_collection(sim: SimulatorServer) -> None:
    exporter = make_exporter(sim.url, collection_interval_seconds=3600)
    try:
        wait_for_collections(exporter, 1)
        first = Scrape(exporter.registry)
        collected = calls(sim)
        assert collected > 0
        assert first.get("dts_up", action=INIT, job_id="dtsa", task_id="") == 1
        assert first.get("dts_data_initialization_tables", job_id="dtsa", status="Migrating") == 150
        assert (first.get(STAMP) or 0) > 0
        second = Scrape(exporter.registry)
        third = Scrape(exporter.registry)
        assert calls(sim) == collected  # the scrapes themselves called nothing
        assert dts_values(second) == dts_values(first) == dts_values(third)
        assert second.get(STAMP) == first.get(STAMP)
    finally:
        exporter.close()


def test_every_collection_advances_the_refresh_timestamps(sim: SimulatorServer) -> None:
    exporter = make_exporter(sim.url, collection_interval_seconds=0.1)
    try:
        wait_for_collections(exporter, 1)
        first = Scrape(exporter.registry)
        done = exporter.background.completed if exporter.background else 0
        wait_for_collections(exporter, done + 2)
        later = Scrape(exporter.registry)
        for action in ("DescribeInitializationStatus", "DescribeDtsJobs"):
            ids = {"action": action, "job_id": "dtsa", "task_id": ""}
            before = first.get("dts_last_refresh_timestamp_seconds", **ids)
            after = later.get("dts_last_refresh_timestamp_seconds", **ids)
            assert before is not None and after is not None and after > before, action
        assert (later.get(STAMP) or 0) > (first.get(STAMP) or 0)
    finally:
        exporter.close()
    assert background_threads() == 0  # shutdown stops it


class HeldCollection:
    """A collection whose first run holds until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs = 0

    def run(self) -> Snapshot:
        self.release.wait(10)
        self.runs += 1
        return Snapshot(
            region="cn-hangzhou", jobs=(JobConfig("dtsa"),), results=(), duration_seconds=1
        )


def test_a_scrape_before_the_first_collection_says_so() -> None:
    held = HeldCollection()
    background = Background(cast(Collection, held), 3600)
    collector = DtsCollector(
        cast(Collection, held), ApiStats(NAMES), background=background, scrape_timeout_seconds=0.05
    )
    background.start()
    try:
        early = {f.name: f for f in collector.families(None)}
        assert early[STAMP].samples[0].value == 0  # no collection complete yet
        assert "dts_job_info" not in early
        held.release.set()
        later = {f.name: f for f in collector.families(10)}  # waits for the first
        assert later[STAMP].samples[0].value > 0
        assert [s.labels["job_id"] for s in later["dts_job_info"].samples] == ["dtsa"]
        assert held.runs == 1
    finally:
        background.stop(wait=5)
    assert background_threads() == 0


def test_reload_stops_the_old_collector_and_serves_its_last_collection_meanwhile(
    sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"region: cn-hangzhou\nendpoint: {sim.url}\nlog_level: error\n"
        "collection_interval_seconds: 3600\njobs: [{id: dtsa}]\n",
        encoding="utf-8",
    )
    stats = ApiStats(NAMES)
    runtime = Runtime(str(path), start(str(path), stats), stats, None)
    try:
        old = runtime.exporter
        wait_for_collections(old, 1)
        assert runtime.reload() == (True, "config reloaded")
        assert runtime.exporter is not old
        assert old.background is not None and old.background.completed == 1
        wait_until_background_threads(1)  # the old one ended, the new one runs
        served = Scrape(runtime.exporter.registry)
        assert served.get("dts_up", action=INIT, job_id="dtsa", task_id="") == 1
    finally:
        runtime.close()
    wait_until_background_threads(0)


def test_a_successor_serves_its_predecessors_collection_until_its_own_first() -> None:
    done, held = HeldCollection(), HeldCollection()
    done.release.set()
    old = Background(cast(Collection, done), 3600)
    new = Background(cast(Collection, held), 3600)
    old.start()
    try:
        assert old.latest(10) is not None and old.completed == 1
        new.seed(old.current())
        new.start()
        collector = DtsCollector(
            cast(Collection, held), ApiStats(NAMES), background=new, scrape_timeout_seconds=0.05
        )
        served = {f.name: f for f in collector.families(None)}
        assert [s.labels["job_id"] for s in served["dts_job_info"].samples] == ["dtsa"]
        assert held.runs == 0  # its own first collection is still under way
    finally:
        held.release.set()
        old.stop(wait=5)
        new.stop(wait=5)
    assert background_threads() == 0


@pytest.mark.slow  # real processes, and seconds of background collections
def test_serve_collects_in_the_background_reloads_and_exits(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    config = {
        "region": "cn-hangzhou",
        "endpoint": sim.url,
        "collection_interval_seconds": 0.5,
        "jobs": [{"id": "dtsa"}],
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exporter = Process(
        ["serve", "--config", str(path), "--listen-address", f"127.0.0.1:{port}"],
        tmp_path / "exporter.log",
        env=DEMO_ENV,
    )
    try:
        exporter.wait_http(f"{url}/healthz")
        first = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert first.get("dts_up", action=INIT, job_id="dtsa", task_id="") == 1
        before = calls(sim)
        threading.Event().wait(1.5)
        assert calls(sim) > before  # collected with no scrape at all
        later = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert (later.get(STAMP) or 0) > (first.get(STAMP) or 0)
        exporter.proc.send_signal(signal.SIGHUP)
        threading.Event().wait(1.5)
        after_reload = Scrape.from_text(requests.get(f"{url}/metrics", timeout=30).text)
        assert after_reload.get("dts_up", action=INIT, job_id="dtsa", task_id="") == 1
    finally:
        code = exporter.stop()
    log = exporter.output()
    assert code == 0, log
    assert log.count("background collection started") == 2, log
