"""The HTTP server as a scraper meets it: content and encoding negotiation, process metrics."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dts_exporter.config import Config, JobConfig
from dts_exporter.startup import build_exporter
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
