"""Hostile callers (issue 12): `/probe` within limits, and short deadlines that do not spread.

A probe names at most probe_max_task_ids task ids, runs in a collection of its own so
that it never takes the configured ids' workers, in a bounded number of slots, and logs
failures of probed ids at most so many lines a minute (the rest counted). A scrape never
receives a collection made under a shorter deadline than its own, and an announced
timeout has a floor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import DtsApiError
from dts_exporter.collection.caching import SingleFlight, TtlCache, cached
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.statelog import LineLimit, StateLog
from dts_exporter.config import Config, JobConfig
from dts_exporter.scrape import DtsCollector, Families, Prober, ProbeRefusedError
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import SimulatorServer
from dts_exporter.simulator.scenario import Fault
from dts_exporter.snapshot import Snapshot
from dts_exporter.startup import Exporter, build_exporter
from dts_exporter.web import MAX_PROBE_QUERY, ExporterServer
from tests.conftest import (
    DEMO_CREDS,
    DEMO_ENV,
    Scrape,
    job_list,
    make_snapshot,
    make_tables,
    start_scenario,
    write_scenario,
)
from tests.procs import Process, free_port

JOB = JobConfig("dtsjob")
JOBS = 3  # configured in the real-process tests
LATE = DtsApiError("Timeout", "not done within the scrape's 0.5s")


def _up(families: Sequence[Family]) -> dict[str, float]:
    return {s.labels["job_id"]: s.value for f in families if f.name == "dts_up" for s in f.samples}


class _Recording(Collection):
    """A collection stand-in: `run` records its timeout; a run with less than a second
    waits until released and reads Timeout, a longer one reads dts_up 1 at once."""

    def __init__(self) -> None:  # no pool, no client: nothing is called
        self.timeouts: list[float | None] = []
        self.short_running = threading.Event()
        self.release = threading.Event()

    def run(
        self, timeout: float | None = None, jobs: Sequence[JobConfig] | None = None
    ) -> Snapshot:
        self.timeouts.append(timeout)
        job = jobs[0] if jobs else JOB
        if timeout is not None and timeout < 1:
            self.short_running.set()
            self.release.wait(10)
            return make_snapshot([(job, None, LATE)])
        return make_snapshot([(job, None, None)])


def test_a_long_deadline_never_joins_a_short_collection_in_flight() -> None:
    collection = _Recording()
    collector = DtsCollector(collection, ApiStats(), scrape_timeout_seconds=25)
    short: list[dict[str, float]] = []
    thread = threading.Thread(target=lambda: short.append(_up(collector.families(0.5))))
    thread.start()
    try:
        assert collection.short_running.wait(10)
        # arrives while the 0.5 s collection is in flight: collects for itself
        assert _up(collector.families(9.5)) == {"dtsjob": 1.0}
        assert _up(collector.families(None)) == {"dtsjob": 1.0}  # no header: 25 s
    finally:
        collection.release.set()
        thread.join(10)
    assert short == [{"dtsjob": 0.0}]
    assert collection.timeouts == [0.5, 9.5, None]


def test_a_short_deadline_does_not_wait_for_a_longer_collection() -> None:
    """Nor does a caller join a collection that ends after its own deadline would."""
    flight: SingleFlight[str] = SingleFlight()
    running, release = threading.Event(), threading.Event()

    def slow() -> str:
        running.set()
        release.wait(10)
        return "long"

    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(flight.run(slow, "k", 60)))
    thread.start()
    try:
        assert running.wait(10)
        assert flight.run(lambda: "own", "k", 5) == "own"
        assert flight.in_flight("k") == 1
    finally:
        release.set()
        thread.join(10)
    assert results == ["long"]
    assert flight.in_flight("k") == 0


def test_the_cache_serves_only_deadlines_no_longer_than_its_own() -> None:
    now = [0.0]
    cache: TtlCache[str] = TtlCache(20, lambda: now[0])
    flight: SingleFlight[str] = SingleFlight()
    cache.put("k", "short", 0.5)
    assert cache.get("k", 9.5) is None
    assert cache.get("k", 0.5) == "short"
    assert cached(cache, flight, "k", lambda: "fresh", 9.5) == "fresh"
    assert cached(cache, flight, "k", lambda: "again", 0.5) == "fresh"  # computed with 9.5
    # an expired entry goes when another is stored
    now[0] = 30.0
    cache.put("other", "x")
    assert len(cache) == 1


class _Timeouts:
    """What the server serves, recording the timeout each request passes on."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def metrics(self, timeout: float | None) -> Collector:
        self.timeouts.append(timeout)
        return Families([])

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> Collector:
        self.timeouts.append(timeout)
        raise ProbeRefusedError(503, "too many probes in flight")


def test_an_announced_timeout_has_a_floor_of_one_second() -> None:
    scrapes = _Timeouts()
    server = ExporterServer(scrapes, "127.0.0.1", 0)
    server.start()
    try:
        for announced in ("0.002", "1e-9", "10"):
            header = {"X-Prometheus-Scrape-Timeout-Seconds": announced}
            requests.get(f"{server.url()}/metrics", headers=header, timeout=10)
        response = requests.get(f"{server.url()}/probe?job_id=dtsa", timeout=10)
    finally:
        server.close()
    # 1 s less the default 0.5 s offset (half, as it is not more than twice the offset)
    assert scrapes.timeouts == [0.5, 0.5, 9.5, None]
    assert response.status_code == 503
    assert response.text == "503 too many probes in flight\n"


def test_probes_wait_for_a_slot_then_are_refused() -> None:
    collection = _Recording()
    prober = Prober(collection, (), slots=1, scrape_timeout_seconds=25)
    thread = threading.Thread(target=prober.families, args=("dtsa",), kwargs={"timeout": 0.5})
    thread.start()
    try:
        assert collection.short_running.wait(10)
        with pytest.raises(ProbeRefusedError) as refused:
            prober.families("dtsb", timeout=0.2)  # waits 0.1 s for the one slot
        assert refused.value.status == 503
        assert "all 1 slots stayed busy" in refused.value.message
    finally:
        collection.release.set()
        thread.join(10)
    # the slot is free again; the refused probe never collected
    assert _up(prober.families("dtsc", timeout=5)) == {"dtsc": 1.0}
    assert len(collection.timeouts) == 2


def test_state_log_lines_over_the_limit_are_counted_not_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    suppressed: list[int] = []
    log = StateLog(LineLimit(3, "probe", lambda: suppressed.append(1), clock=lambda: now[0]))
    caplog.set_level(logging.INFO, logger="dts_exporter")
    error = DtsApiError("InvalidJobId", "no such job")
    for i in range(10):
        log.result((INIT, f"dtsgone{i}", ""), error)
    failed = [r for r in caplog.records if r.getMessage().startswith("DTS call failed")]
    told = [r for r in caplog.records if "log lines over the limit" in r.getMessage()]
    assert len(failed) == 3 and len(told) == 1 and len(suppressed) == 7
    assert "reason=probe limit=3" in told[0].getMessage()
    now[0] = 60.0  # a new minute
    log.result((INIT, "dtsgone0", ""), None)
    assert caplog.records[-1].getMessage().startswith("DTS call recovered")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    scenario: dict[str, Any] = {
        "jobs": {f"dtsconf{i}": {"DataInitializationDetails": make_tables(2)} for i in range(3)},
        "tasks": {"taskconf": {"Status": "Finished"}},
    }
    server = start_scenario(tmp_path, scenario)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def exporter(sim: SimulatorServer) -> Iterator[tuple[Exporter, str]]:
    jobs = (JobConfig("dtsconf0", modify_tasks=("taskconf",)), JobConfig("dtsconf1"))
    config = Config(region="cn-hangzhou", endpoint=sim.url, jobs=(*jobs, JobConfig("dtsconf2")))
    built = build_exporter(config, DEMO_CREDS)
    server = ExporterServer(built, "127.0.0.1", 0)
    server.start()
    try:
        yield built, server.url()
    finally:
        server.close()
        built.close()


def test_a_probe_names_at_most_probe_max_task_ids_task_ids(
    exporter: tuple[Exporter, str],
) -> None:
    built, base = exporter
    tasks = [f"tasknew{i:03d}" for i in range(51)]
    too_many = "&".join(f"task_id={t}" for t in tasks)
    response = requests.get(f"{base}/probe?job_id=dtsnew&{too_many}", timeout=10)
    assert response.status_code == 400
    assert response.text == (
        "400 too many task_id values: 51 distinct, at most 50 per probe (probe_max_task_ids)\n"
    )
    # duplicates count once, and a configured job's own tasks do not count
    fifty = "&".join(f"task_id={t}" for t in [*tasks[:50], *tasks[:10], "taskconf"])
    response = requests.get(f"{base}/probe?job_id=dtsconf0&{fifty}", timeout=30)
    assert response.status_code == 200
    data = Scrape.from_text(response.text)
    assert data.get("dts_up", action=MODIFY, job_id="dtsconf0", task_id="taskconf") == 1
    probed = [data.get("dts_up", action=MODIFY, job_id="dtsconf0", task_id=t) for t in tasks]
    assert probed == [0] * 50 + [None]  # unknown tasks: InvalidTaskId
    long_query = "job_id=dtsnew&" + "task_id=t&" * (MAX_PROBE_QUERY // 10)
    response = requests.get(f"{base}/probe?{long_query}", timeout=10)
    assert response.status_code == 414
    assert response.text.startswith("414 probe query too long: ")
    assert response.text.endswith(f"bytes, at most {MAX_PROBE_QUERY}\n")
    # the configured collection remembers nothing of the probes
    assert built.probe_collection is not None
    assert len(built.collection.history) == 0
    assert len(built.probe_collection.history) > 0


def test_failures_of_probed_ids_are_logged_within_the_limit_and_counted(
    exporter: tuple[Exporter, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, base = exporter
    caplog.set_level(logging.INFO, logger="dts_exporter")
    failures = 0
    for i in range(40):
        text = requests.get(
            f"{base}/probe?job_id=dtsgone{i:03d}&task_id=taskgone{i:03d}a&task_id=taskgone{i:03d}b",
            timeout=30,
        ).text
        failures += sum(
            1 for line in text.splitlines() if line.startswith("dts_up{") and line.endswith(" 0.0")
        )
    written = [r.getMessage() for r in caplog.records if "DTS call failed" in r.getMessage()]
    told = [r for r in caplog.records if "log lines over the limit" in r.getMessage()]
    assert failures >= 40 * 3  # each probe: its job and both tasks, at least
    assert len(written) == 30 and len(told) == 1
    metrics = Scrape.from_text(requests.get(f"{base}/metrics", timeout=30).text)
    suppressed = metrics.get("dts_exporter_log_lines_suppressed_total", reason="probe")
    assert suppressed == failures - len(written)
    assert metrics.get("dts_up", action=INIT, job_id="dtsconf1", task_id="") == 1


@pytest.mark.slow  # waits for slow simulated calls
def test_probes_never_starve_the_configured_ids(
    sim: SimulatorServer, exporter: tuple[Exporter, str]
) -> None:
    """Four probes of 50 slow task ids each (200 calls of 1 s) leave the configured ids'
    workers alone: /metrics within a 3 s deadline reads every configured id up."""
    _, base = exporter
    sim.set_faults({MODIFY: [Fault(kind="latency", seconds=1.0)]})

    def probe(n: int) -> None:
        tasks = "&".join(f"task_id=taskslow{n}x{i:02d}" for i in range(50))
        header = {"X-Prometheus-Scrape-Timeout-Seconds": "5"}
        requests.get(f"{base}/probe?job_id=dtsslow{n}&{tasks}", headers=header, timeout=60)

    threads = [threading.Thread(target=probe, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while sim.request_counts().get(MODIFY, 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        header = {"X-Prometheus-Scrape-Timeout-Seconds": "3.5"}
        text = requests.get(f"{base}/metrics", headers=header, timeout=30).text
    finally:
        for thread in threads:
            thread.join(60)
    data = Scrape.from_text(text)
    for job_id in ("dtsconf0", "dtsconf1", "dtsconf2"):
        assert data.get("dts_up", action=INIT, job_id=job_id, task_id="") == 1, job_id
    assert data.get("dts_up", action=MODIFY, job_id="dtsconf0", task_id="taskconf") == 1


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def _stack(tmp_path: Path, latency: float) -> Iterator[tuple[str, Process]]:
    """Real `simulate` and `serve` processes: three configured jobs, every call answered
    after `latency` seconds; every other id is unknown to the simulator (an error)."""
    jobs = tuple(f"dtsreal{i:02d}" for i in range(JOBS))
    scenario = {
        "jobs": {job: {"DataInitializationDetails": make_tables(3)} for job in jobs},
        "dts_jobs": job_list(*jobs),
        "faults": {"*": [{"kind": "latency", "seconds": latency}]} if latency else {},
    }
    sim_port, exp_port = free_port(), free_port()
    sim = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{sim_port}",
            "--scenario",
            str(write_scenario(tmp_path, scenario)),
        ],
        tmp_path / "simulator.log",
    )
    config = {
        "region": "cn-hangzhou",
        "endpoint": f"http://127.0.0.1:{sim_port}",
        "jobs": [{"id": job} for job in jobs],
    }
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    exporter = Process(
        [
            "serve",
            "--config",
            str(tmp_path / "config.json"),
            "--listen-address",
            f"127.0.0.1:{exp_port}",
        ],
        tmp_path / "exporter.log",
        env=DEMO_ENV,
    )
    url = f"http://127.0.0.1:{exp_port}"
    try:
        sim.wait_http(f"http://127.0.0.1:{sim_port}/")
        exporter.wait_http(f"{url}/healthz")
        yield url, exporter
    finally:
        exporter.stop()
        sim.stop()


def _configured_up(text: str) -> dict[tuple[str, str], float]:
    data = Scrape.from_text(text)
    return {
        (labels["job_id"], labels["action"]): value
        for (name, frozen), value in data.values.items()
        for labels in [dict(frozen)]
        if name == "dts_up" and labels["job_id"].startswith("dtsreal")
    }


@pytest.mark.slow  # real simulator and exporter processes
def test_short_announced_deadlines_do_not_spread(tmp_path: Path) -> None:
    """8 clients looping /metrics announcing a 2 ms timeout beside a normal scraper (calls
    take 0.05 s): every one of its 32 scrapes reads every configured id up."""
    with _stack(tmp_path, 0.05) as (url, _):
        _no_short_deadline_spreads(url)


def _no_short_deadline_spreads(url: str) -> None:
    normal = {"X-Prometheus-Scrape-Timeout-Seconds": "10"}
    baseline = _configured_up(requests.get(f"{url}/metrics", headers=normal, timeout=30).text)
    assert len(baseline) >= 3 and set(baseline.values()) == {1.0}
    stop = threading.Event()
    hostile_scrapes = [0]

    def hostile() -> None:
        short = {"X-Prometheus-Scrape-Timeout-Seconds": "0.002"}
        while not stop.is_set():
            requests.get(f"{url}/metrics", headers=short, timeout=30)
            hostile_scrapes[0] += 1

    threads = [threading.Thread(target=hostile) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        scrapes = [
            _configured_up(requests.get(f"{url}/metrics", headers=normal, timeout=30).text)
            for _ in range(32)
        ]
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert hostile_scrapes[0] >= 8
    down = [i for i, up in enumerate(scrapes) if up != baseline]
    assert down == [], f"{len(down)} of 32 normal scrapes read a configured id down"


@pytest.mark.slow  # real simulator and exporter processes
def test_a_probe_flood_bounds_memory_and_log(tmp_path: Path) -> None:
    """100 probes of distinct unknown job ids with 50 unknown task ids each, then 100 with
    300 (refused): the exporter's RSS grows by at most 20 MiB, its log by at most 100
    lines, and the configured ids stay up."""
    with _stack(tmp_path, 0.0) as (url, exporter):
        _flood(url, exporter)


def _flood(url: str, exporter: Process) -> None:
    def probe(prefix: str, n: int, tasks: int) -> int:
        job = f"{prefix}{n:04d}"
        query = "&".join(f"task_id={job}t{t:03d}" for t in range(tasks))
        return requests.get(f"{url}/probe?job_id={job}&{query}", timeout=60).status_code

    for n in range(4):  # warm-up: pools, connections
        assert probe("dtswarm", n, 50) == 200
    requests.get(f"{url}/metrics", timeout=30)
    time.sleep(0.5)
    rss = _rss_kib(exporter.proc.pid)
    lines = len(exporter.output().splitlines())
    with ThreadPoolExecutor(4) as pool:
        allowed = list(pool.map(lambda n: probe("dtsflood", n, 50), range(100)))
        refused = list(pool.map(lambda n: probe("dtsover", n, 300), range(100)))
    assert allowed == [200] * 100 and refused == [400] * 100
    grown_mib = (_rss_kib(exporter.proc.pid) - rss) / 1024
    written = exporter.output().splitlines()[lines:]
    assert grown_mib <= 20, grown_mib
    assert len(written) <= 100, "\n".join(written[-5:])
    text = requests.get(f"{url}/metrics", timeout=30).text
    assert set(_configured_up(text).values()) == {1.0}
    suppressed = Scrape.from_text(text).get(
        "dts_exporter_log_lines_suppressed_total", reason="probe"
    )
    assert suppressed is not None and suppressed > 1000
