"""The simulator's hostile answers (what a proxy, a misrouted name or a service bug sends)
end as one bounded error code each, and a healthy job beside them stays up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dts_exporter.actions import initialization
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import Config, JobConfig
from dts_exporter.config.model import JobStatusConfig
from dts_exporter.simulator import HOSTILE_FAULT_KINDS, SimulatorServer
from dts_exporter.startup import build_exporter
from dts_exporter.wire.client import DtsClient
from tests.conftest import DEMO_CREDS, Scrape, make_tables, start_scenario

EXPECTED = {
    "redirect": "HTTP302",
    "drip": "Timeout",
    "oversize_page": "InvalidResponse",
    "repeat_page": "InvalidResponse",
    "deep_json": "InvalidResponse",
    "gzip_bomb": "InvalidResponse",
    "huge_body": "InvalidResponse",
}


def job(kind: str) -> str:
    return "dts" + kind.replace("_", "")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    scenario = {
        "jobs": {
            "dtsgood": {"DataInitializationDetails": make_tables(3)},
            **{job(kind): {"DataInitializationDetails": make_tables(45)} for kind in EXPECTED},
        },
        "faults": {job(kind): [{"kind": kind}] for kind in EXPECTED},
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def test_every_hostile_kind_is_covered() -> None:
    assert set(EXPECTED) == set(HOSTILE_FAULT_KINDS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_a_hostile_answer_is_one_bounded_error(sim: SimulatorServer, kind: str) -> None:
    client = DtsClient(
        endpoint=sim.url,
        region="cn-hangzhou",
        credentials=DEMO_CREDS,
        timeout_seconds=1.0,
        pool_size=2,
    )
    try:
        with pytest.raises(DtsApiError) as info:
            initialization.request(client, job(kind))
    finally:
        client.close()
    assert info.value.code == EXPECTED[kind]
    assert "\n" not in str(info.value)


def test_a_healthy_job_stays_up_beside_hostile_ones(sim: SimulatorServer) -> None:
    jobs = (JobConfig("dtsgood"), *(JobConfig(job(kind)) for kind in EXPECTED))
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=jobs,
        timeout_seconds=1.0,
        max_retries=0,
        concurrency=2,
        job_status=JobStatusConfig(enabled=False),
    )
    exporter = build_exporter(config, DEMO_CREDS)
    try:
        scrape = Scrape(exporter.registry)
    finally:
        exporter.close()
    assert scrape.get("dts_up", action=INIT, job_id="dtsgood", task_id="") == 1.0
    for kind in EXPECTED:
        assert scrape.get("dts_up", action=INIT, job_id=job(kind), task_id="") == 0.0, kind
