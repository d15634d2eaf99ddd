"""Collection behaviour a user notices: isolation of failures, deadlines, single flight."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from dts_exporter.actions import NAMES
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import DtsApiError
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.history import PROBE_CAPACITY
from dts_exporter.collection.targets import Selection, Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.scrape import Prober
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import SimulatorServer
from dts_exporter.simulator.scenario import Fault
from dts_exporter.startup import Exporter, build_exporter
from dts_exporter.wire.client import DtsClient
from tests.conftest import DEMO_CREDS, Scrape, job_list, load_fixture, make_tables, start_scenario


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    scenario = {
        "jobs": {
            "dtsgood": load_fixture("describe_initialization_status.json"),
            "dtsbig": {"DataInitializationDetails": make_tables(250)},
            "dtspage2": {"DataInitializationDetails": make_tables(250)},
            "dtsslow": {"DataInitializationDetails": make_tables(1)},
            "dtsthrottled": {"DataInitializationDetails": make_tables(1)},
        },
        "tasks": {
            "taskgood": load_fixture("describe_modify_status.json"),
            "taskbroken": {"Status": "Migrating"},
        },
        "dts_jobs": job_list("dtsgood", "dtsbig", "dtspage2", "dtsslow", "dtsthrottled"),
        "faults": {
            "dtspage2": [{"kind": "internal_error", "pages": [2]}],
            "dtsslow": [{"kind": "latency", "seconds": 3}],
            "dtsthrottled": [{"kind": "throttling"}],
            "taskbroken": [{"kind": "malformed"}],
        },
    }
    server = start_scenario(tmp_path, scenario)
    yield server
    server.close()


def make_exporter(url: str, jobs: list[JobConfig], **overrides: Any) -> Exporter:
    config = Config(region="cn-hangzhou", endpoint=url, jobs=tuple(jobs), **overrides)
    return build_exporter(config, DEMO_CREDS)


def up(scrape: Scrape, job_id: str, task_id: str = "") -> float | None:
    action = MODIFY if task_id else INIT
    return scrape.get("dts_up", action=action, job_id=job_id, task_id=task_id)


def test_registering_makes_no_api_call(sim: SimulatorServer) -> None:
    exporter = make_exporter(sim.url, [JobConfig("dtsgood", modify_tasks=("taskgood",))])
    try:
        assert sim.request_counts() == {} or sum(sim.request_counts().values()) == 0
    finally:
        exporter.close()


@pytest.mark.slow  # a second or more of retry backoff
def test_failures_are_isolated_and_counted(sim: SimulatorServer) -> None:
    jobs = [
        JobConfig("dtsgood", "orders", ("taskgood", "taskbroken")),
        JobConfig("dtsthrottled"),
        JobConfig("dtspage2"),
        JobConfig("dtsbig"),
    ]
    exporter = make_exporter(sim.url, jobs)
    try:
        r = Scrape(exporter.registry)
        assert up(r, "dtsgood") == 1
        assert up(r, "dtsgood", "taskgood") == 1
        assert up(r, "dtsgood", "taskbroken") == 0
        assert up(r, "dtsthrottled") == 0
        assert up(r, "dtspage2") == 0
        assert up(r, "dtsbig") == 1
        # a half job is never exported as whole: no table series for the page-2 failure
        assert (
            r.get("dts_data_initialization_tables", job_id="dtspage2", status="Migrating") is None
        )
        assert r.get("dts_data_initialization_tables", job_id="dtsbig", status="Migrating") == 250
        assert (
            r.get(
                "dts_data_initialization_synced_rows",
                job_id="dtsgood",
                source_db="dtstestdata",
                dest_db="dtstestdata",
                table="customer",
            )
            == 9993
        )
        requests = {
            code: r.get("dts_exporter_api_requests_total", action=action, code=code)
            for action, code in [
                (INIT, "Throttling.User"),
                (INIT, "InternalError"),
                (MODIFY, "InvalidResponse"),
            ]
        }
        # throttling and 500 are retried (max_retries 3: four attempts); a malformed body is not
        assert requests == {"Throttling.User": 4, "InternalError": 4, "InvalidResponse": 1}
        retries = {
            code: r.get("dts_exporter_api_retries_total", action=action, code=code)
            for action, code in [
                (INIT, "Throttling.User"),
                (INIT, "InternalError"),
                (MODIFY, "InvalidResponse"),
            ]
        }
        assert retries == {"Throttling.User": 3, "InternalError": 3, "InvalidResponse": None}
    finally:
        exporter.close()


def test_scrape_deadline_marks_late_ids_timeout(sim: SimulatorServer) -> None:
    exporter = make_exporter(
        sim.url, [JobConfig("dtsslow"), JobConfig("dtsgood")], scrape_timeout_seconds=1.0
    )
    try:
        r = Scrape(exporter.registry)
        assert up(r, "dtsslow") == 0
        assert up(r, "dtsgood") == 1
        duration = r.get("dts_exporter_scrape_duration_seconds")
        assert duration is not None and duration < 2.5
        assert r.get("dts_exporter_api_requests_total", action=INIT, code="Timeout") == 1
    finally:
        exporter.close()


@pytest.mark.slow  # calls held 0.5 s each by a latency fault
def test_concurrent_scrapes_share_one_collection(sim: SimulatorServer) -> None:
    sim.set_faults({"*": [Fault(kind="latency", seconds=0.5)]})
    exporter = make_exporter(
        sim.url, [JobConfig("dtsgood", modify_tasks=("taskgood",)), JobConfig("dtsbig")]
    )
    try:
        outputs: list[bytes] = []
        threads = [
            threading.Thread(target=lambda: outputs.append(generate_latest(exporter.registry)))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts = sim.request_counts()
        # one set of calls: dtsgood (1 page) + dtsbig (3 pages) + one task
        assert counts.get(INIT) == 4
        assert counts.get(MODIFY) == 1
        assert len(outputs) == 4 and all(b"dts_up" in out for out in outputs)
    finally:
        exporter.close()


@pytest.mark.slow  # five scrapes, seconds of retry backoff
def test_failure_is_logged_once_and_recovery_once(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = make_exporter(sim.url, [JobConfig("dtsthrottled")])
    try:
        with caplog.at_level(logging.INFO, logger="dts_exporter"):
            for _ in range(3):
                generate_latest(exporter.registry)
            sim.set_faults({})
            generate_latest(exporter.registry)
            generate_latest(exporter.registry)
        failures = [r.getMessage() for r in caplog.records if "DTS call failed" in r.getMessage()]
        recoveries = [
            r.getMessage() for r in caplog.records if "DTS call recovered" in r.getMessage()
        ]
        assert len(failures) == 1
        assert "job_id=dtsthrottled" in failures[0] and "code=Throttling.User" in failures[0]
        assert f"action={INIT}" in failures[0]
        assert len(recoveries) == 1
        assert up(Scrape(exporter.registry), "dtsthrottled") == 1
    finally:
        exporter.close()


class _AnswerClient(DtsClient):
    """Answers every call from memory: a settled job for ids starting with `dtsdone`, an
    unknown id for the rest, so thousands of probes cost no network."""

    def __init__(self) -> None:
        super().__init__(
            region="cn-hangzhou", credentials=DEMO_CREDS, timeout_seconds=5, pool_size=4
        )

    def call(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        region: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        job_id = params.get("SynchronizationJobId", "")
        if not job_id.startswith("dtsdone"):
            raise DtsApiError("InvalidJobId", f"no job {job_id}", action=action)
        return {"DataInitializationDetails": make_tables(3, status="Finished"), "Success": True}


def test_probe_history_and_failure_log_stay_bounded() -> None:
    """Probes of ever new ids (settled or failing) neither grow the remembered results nor
    the failure-log state beyond the probe capacity plus the monitored ids."""
    config = Config(region="cn-hangzhou", jobs=(JobConfig("dtsdone-static"),))
    client = _AnswerClient()
    stats = ApiStats(NAMES)
    collection = Collection(config, client, stats, Targets(config.jobs))
    prober = Prober(collection, config.jobs)
    try:
        collection.run()
        extra = 50
        for i in range(PROBE_CAPACITY + extra):
            prober.families(f"dtsdone{i:05d}")
            prober.families(f"dtsmissing{i:05d}")
        assert len(collection.history) <= PROBE_CAPACITY + 1
        assert len(collection.log) <= PROBE_CAPACITY
        kept = collection.history.kept()
        assert ("DescribeInitializationStatus", "dtsdone-static", "") in kept
        # the most recent probes are remembered, the oldest are not
        last = f"dtsdone{PROBE_CAPACITY + extra - 1:05d}"
        assert ("DescribeInitializationStatus", last, "") in kept
        assert ("DescribeInitializationStatus", "dtsdone00000", "") not in kept
        # a full collection keeps the monitored id and what was probed lately
        collection.run()
        assert ("DescribeInitializationStatus", "dtsdone-static", "") in collection.history.kept()
        assert len(collection.history) <= PROBE_CAPACITY + 1
    finally:
        collection.close()


class _Fleet(Targets):
    """Targets whose jobs change between collections, as discovery's would."""

    def __init__(self, jobs: tuple[JobConfig, ...]) -> None:
        super().__init__(jobs)
        self.current = jobs

    def select(self, deadline: float) -> Selection:
        return Selection(self.current)


def test_settled_results_of_ids_no_longer_monitored_are_forgotten() -> None:
    jobs = tuple(JobConfig(f"dtsdone{i}") for i in range(5))
    fleet = _Fleet(jobs)
    collection = Collection(
        Config(region="cn-hangzhou", jobs=jobs), _AnswerClient(), ApiStats(NAMES), fleet
    )
    try:
        collection.run()
        assert len(collection.history) == 5
        assert collection.run().calls_saved == 5  # settled: reused, not called
        fleet.current = jobs[:2]
        collection.run()
        assert len(collection.history) == 2
    finally:
        collection.close()
