"""The HTTP server as a scraper meets it: content and encoding negotiation, process metrics."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests
from prometheus_client.registry import Collector

from dts_exporter.config import Config, JobConfig
from dts_exporter.startup import Exporter, build_exporter
from dts_exporter.web import ExporterServer
from tests.conftest import DEMO_CREDS, Scrape, make_tables, start_scenario


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    scenario = {"jobs": {"dtsweb": {"DataInitializationDetails": make_tables(2)}}}
    sim = start_scenario(tmp_path, scenario)
    config = Config(region="cn-hangzhou", endpoint=sim.url, jobs=(JobConfig("dtsweb"),))
    exporter = build_exporter(config, DEMO_CREDS)
    server = ExporterServer(exporter, "127.0.0.1", 0)
    server.start()
    try:
        yield server.url()
    finally:
        server.close()
        exporter.close()
        sim.close()


def _raw(url: str, accept_encoding: str) -> requests.Response:
    # stream=True: requests would otherwise decode gzip itself and hide what was sent
    return requests.get(url, headers={"Accept-Encoding": accept_encoding}, timeout=10, stream=True)


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("deflate, GZIP;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0, identity", False),
        ("x-gzip", False),
        ("identity", False),
        ("", False),
    ],
)
def test_gzip_only_when_the_scraper_accepts_it(
    base: str, accept_encoding: str, gzipped: bool
) -> None:
    response = _raw(f"{base}/metrics", accept_encoding)
    body = response.raw.read()
    assert response.status_code == 200
    assert (response.headers.get("Content-Encoding") == "gzip") is gzipped
    text = (gzip.decompress(body) if gzipped else body).decode()
    assert 'dts_up{action="DescribeInitializationStatus",job_id="dtsweb",task_id=""} 1.0' in text


def test_process_and_platform_metrics_are_exposed(base: str) -> None:
    text = requests.get(f"{base}/metrics", timeout=10).text
    data = Scrape.from_text(text)
    assert (data.get("process_resident_memory_bytes") or 0) > 0
    assert any(name == "python_info" for name, _ in data.values)
    assert text.index("dts_up") < text.index("process_resident_memory_bytes")
    # a probe is about one job: no process metrics there
    probe = requests.get(f"{base}/probe?job_id=dtsweb", timeout=10).text
    assert "dts_up" in probe and "process_" not in probe


def test_openmetrics_is_negotiated(base: str) -> None:
    response = requests.get(
        f"{base}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=10,
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


class _Gated:
    """The built exporter, its /metrics held until the test lets it answer."""

    def __init__(self, scrapes: Exporter) -> None:
        self.scrapes = scrapes
        self.asked = threading.Event()
        self.go = threading.Event()

    def metrics(self, timeout: float | None) -> Collector:
        self.asked.set()
        self.go.wait(10)
        return self.scrapes.metrics(timeout)

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> Collector:
        return self.scrapes.probe(job_id, task_ids, region, timeout)


def test_a_client_that_hangs_up_early_costs_one_debug_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = start_scenario(tmp_path, {"jobs": {"dtsweb": {}}})
    config = Config(region="cn-hangzhou", endpoint=sim.url, jobs=(JobConfig("dtsweb"),))
    exporter = build_exporter(config, DEMO_CREDS)
    gated = _Gated(exporter)
    server = ExporterServer(gated, "127.0.0.1", 0)
    server.start()
    caplog.set_level(logging.DEBUG, logger="dts_exporter")
    try:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert gated.asked.wait(10)  # the request was read: the answer is being made
        client.close()  # before reading anything
        gated.go.set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            "disconnected" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.05)
        assert requests.get(f"{server.url()}/healthz", timeout=10).status_code == 200
    finally:
        server.close(grace_seconds=5)
        exporter.close()
        sim.close()
    records = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.DEBUG, 'client disconnected client=127.0.0.1 path="/metrics"')
    ]
    web = [r for r in caplog.records if r.name == "dts_exporter.web"]
    assert not any(r.exc_info or r.levelno >= logging.WARNING for r in web)
    assert "Traceback" not in capsys.readouterr().err
