from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Result, Target
from dts_exporter.config import JobConfig
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    SimulatorServer,
    load_scenario,
    start_simulator,
)
from dts_exporter.snapshot import Snapshot
from tests.pki import Pki, make_pki
from tests.simulator_signer import Clock

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"

# The simulator's demo key: as a provider for in-process exporters, and as the environment
# of a child process (`tests.procs`).
DEMO_CREDS = StaticProvider(Credentials(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET))
DEMO_ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_ACCESS_KEY_SECRET,
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Only a test marked `slow` may start a process, here or in the fixtures it sets up:
    `pytest -m "not slow"` stays fast and needs no external tool."""
    if item.get_closest_marker("slow") is not None:
        return (yield)

    def refuse(self: subprocess.Popen[Any], args: Any, *_: Any, **__: Any) -> None:
        raise AssertionError(
            f"{item.nodeid} starts a process ({args!r}) but is not marked slow: add "
            "@pytest.mark.slow to it, or `pytestmark = pytest.mark.slow` to its module"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse)
        return (yield)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def init_body() -> dict[str, Any]:
    body: dict[str, Any] = load_fixture("describe_initialization_status.json")
    return body


@pytest.fixture
def modify_body() -> dict[str, Any]:
    body: dict[str, Any] = load_fixture("describe_modify_status.json")
    return body


def make_tables(count: int, *, db: str = "shop", status: str = "Migrating") -> list[dict[str, Any]]:
    """`count` DataInitializationDetails entries, values as strings as the service sends."""
    return [
        {
            "SourceOwnerDBName": db,
            "DestinationOwnerDBName": db,
            "TableName": f"t{i:05d}",
            "Status": status,
            "TotalRowNum": str(1000 + i),
            "FinishRowNum": str(500 + i),
            "UsedTime": "12.0",
        }
        for i in range(count)
    ]


def job_list(*job_ids: str, region: str = "cn-hangzhou") -> dict[str, list[dict[str, Any]]]:
    """A scenario's `dts_jobs`: each id listed as a running synchronization job, as a real
    account lists every job the exporter monitors."""
    return {
        region: [
            {
                "DtsInstanceID": job_id,
                "DtsJobId": f"job-{job_id}",
                "DtsJobName": job_id,
                "JobType": "SYNC",
                "Status": "Synchronizing",
                "Delay": 1,
                "Checkpoint": "1790000000",
            }
            for job_id in job_ids
        ]
    }


def write_scenario(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def start_scenario(tmp_path: Path, scenario: dict[str, Any]) -> SimulatorServer:
    """An in-process simulator on a free loopback port replaying `scenario` (as a file,
    the way `simulate --scenario` reads it). The caller closes it."""
    return start_simulator(
        "127.0.0.1", 0, scenario=load_scenario(str(write_scenario(tmp_path, scenario)))
    )


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables: the SDKs honour them, and the simulator is on loopback."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> Clock:
    """A clock for an in-process simulator (`start_simulator(..., clock=clock)`) that the
    test moves with `clock.offset`."""
    return Clock()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server and a client certificate, and an unrelated CA's client (`tests.pki`)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


class StaticCollector(Collector):
    """A collector whose every collection returns the same families."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class Scrape:
    """One collection of a registry, read many times (each registry read is a new scrape)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.values = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in registry.collect()
            for s in family.samples
        }

    @classmethod
    def from_text(cls, text: str) -> Scrape:
        scrape = cls.__new__(cls)
        scrape.values = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        return scrape

    def get(self, metric: str, /, **labels: str) -> float | None:
        return self.values.get((metric, frozenset(labels.items())))


# dts_job_info's labels for a job whose state was not read (only its config is known).
BLANK_INFO = {
    "job_class": "",
    "source_engine": "",
    "source_region": "",
    "destination_engine": "",
    "destination_region": "",
}


def make_snapshot(
    jobs: Sequence[tuple[JobConfig, Any, DtsApiError | None]],
    tasks: Sequence[tuple[str, str, Any, DtsApiError | None]] = (),
    *,
    duration_seconds: float = 0.5,
    region: str = "cn-hangzhou",
    refreshed_at: float | None = None,
) -> Snapshot:
    """A snapshot as a collection makes it: (job, its initialization record or None, its
    error) per job, and (job id, task id, modify record or None, error) per task."""
    results: list[Result[Any]] = [
        Result(DESCRIBE_INITIALIZATION_STATUS, Target(job.id, region=job.region), record, error)
        for job, record, error in jobs
    ]
    results.extend(
        Result(DESCRIBE_MODIFY_STATUS, Target(job_id, task_id), record, error)
        for job_id, task_id, record, error in tasks
    )
    if refreshed_at is not None:
        results = [replace(r, refreshed_at=refreshed_at) for r in results]
    return Snapshot(
        region=region,
        jobs=tuple(job for job, _, _ in jobs),
        results=tuple(results),
        duration_seconds=duration_seconds,
    )


def cli_env(monkeypatch: pytest.MonkeyPatch, home: Path, unset: Sequence[str]) -> Iterator[None]:
    """For a fixture to `yield from`: the demo's credentials, `home` as HOME, no ECS
    metadata, the `unset` variables gone; the root logger's handlers and level restored
    afterwards (commands set up logging on click's captured stderr)."""
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
