"""The built-in demo's job health over time: a delay wave, a retrying job, a suspended
job with a frozen checkpoint, a data verification with 3 differing rows."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dts_exporter.base.api import DESCRIBE_CHECK_JOBS as CHECKS
from dts_exporter.base.api import DESCRIBE_DTS_JOB_DETAIL as DETAIL
from dts_exporter.base.api import DESCRIBE_DTS_JOBS as JOBS
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_MIGRATION_JOB_ID,
    DEMO_REGION,
    start_simulator,
)
from dts_exporter.simulator.demo_health import demo_health
from tests.simulator_signer import Clock, Signer

ORDERS = "dtsi01orders8x2k"
BILLING = "dtsi02billing5m7q"
CATALOG = "dtsi03catalog3p9w"
ANALYTICS = "dtsi04analytics6r1t"


@pytest.fixture
def demo(clock: Clock) -> Iterator[Signer]:
    simulator = start_simulator("127.0.0.1", 0, clock=clock)
    yield Signer(simulator, clock, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    simulator.close()


def body_of(signer: Signer, action: str, **params: str) -> dict[str, Any]:
    response = signer.v1(action, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["Success"] is True
    return body


def jobs_at(signer: Signer, clock: Clock, elapsed: float) -> dict[str, dict[str, Any]]:
    """The demo's SYNC entries by DtsInstanceID, `elapsed` seconds after its start."""
    clock.offset = elapsed
    body = body_of(signer, JOBS, Region=DEMO_REGION, JobType="SYNC", PageSize="30")
    return {item["DtsInstanceID"]: item for item in body["DtsJobList"]}


def test_orders_falls_behind_and_catches_up(demo: Signer, clock: Clock) -> None:
    delays = {t: jobs_at(demo, clock, t)[ORDERS]["Delay"] for t in range(0, 1201, 30)}
    assert delays[0] < 20 and delays[600] < 20 and delays[1200] < 20  # caught up
    assert 120 < delays[300] < 150 and 120 < delays[900] < 150  # behind, under 150 s
    assert max(delays.values()) < 150
    for t in (0, 300, 450):
        orders = jobs_at(demo, clock, t)[ORDERS]
        assert orders["Status"] == "Synchronizing"
        assert orders["Checkpoint"] == str(int(clock() - orders["Delay"]))
        assert orders["RetryState"]["Retrying"] is False
        assert int(orders["Performance"]["Rps"]) > 1000
        assert orders["ErrorDetails"] == [] and orders["ErrorMessage"] == ""


def test_billing_retries_against_the_destination(demo: Signer, clock: Clock) -> None:
    start = clock()
    counts = []
    for t in (0, 300, 3600):
        billing = jobs_at(demo, clock, t)[BILLING]
        retry = billing["RetryState"]
        assert billing["Status"] == "Retrying"
        assert (retry["Retrying"], retry["RetryTarget"]) == (True, "destDB")
        assert retry["RetryTime"] >= t and retry["MaxRetryTime"] > retry["RetryTime"]
        assert retry["JobId"] == billing["DtsJobId"]
        [error] = billing["ErrorDetails"]
        assert re.fullmatch(r"DTS-\d{6}", error["ErrorCode"])
        assert error["HelpUrl"].startswith("https://")
        assert billing["ErrorMessage"].startswith(error["ErrorCode"])
        assert billing["PayType"] == "PrePaid"
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 3 * 86400))
        assert billing["ExpireTime"] == expires  # 3 days after the start, not moving
        counts.append(retry["RetryCount"])
    assert counts == sorted(counts) and counts[0] < counts[1] < counts[2]


def test_analytics_is_suspended_with_a_frozen_checkpoint(demo: Signer, clock: Clock) -> None:
    seen = [jobs_at(demo, clock, t)[ANALYTICS] for t in (0, 60, 120, 600, 3600)]
    assert {item["Status"] for item in seen} == {"Suspending"}
    assert len({item["Checkpoint"] for item in seen}) == 1  # frozen
    delays = [item["Delay"] for item in seen]
    assert delays == sorted(delays) and len(set(delays)) == len(delays)
    assert delays[0] < 300 < delays[2]  # past 300 s within two minutes
    assert {item["Performance"]["Rps"] for item in seen} == {"0"}


def test_catalog_verification_finds_three_differing_rows(demo: Signer, clock: Clock) -> None:
    catalog = jobs_at(demo, clock, 42)[CATALOG]
    assert catalog["Status"] == "Synchronizing"
    assert catalog["FullDataCheckStatus"]["Status"] == "Finished"
    assert catalog["FullDataCheckStatus"]["Percent"] == "100"
    assert catalog["MigrationMode"]["FullDataCheck"] is True
    body = body_of(demo, CHECKS, InstanceId=CATALOG, CheckType="3", PageSize="30")
    [check] = body["CheckJobs"]
    assert (check["CheckType"], check["Status"], check["DiffCount"]) == (1, 1, 3)
    assert check["FinishCount"] == check["TotalCount"] > 0
    assert (check["DtsInstanceID"], check["DtsJobId"]) == (CATALOG, catalog["DtsJobId"])
    assert check["CheckPoint"] < clock() and check["JobStepId"] and check["JobName"]
    assert body_of(demo, CHECKS, InstanceId=CATALOG, CheckType="2")["CheckJobs"] == []
    for job_id in (ORDERS, BILLING, ANALYTICS):
        assert body_of(demo, CHECKS, InstanceId=job_id)["CheckJobs"] == []
        assert jobs_at(demo, clock, 42)[job_id]["FullDataCheckStatus"]["Status"] == "NotStarted"
    assert body_of(demo, CHECKS)["TotalRecordCount"] == 1


def test_entries_carry_the_sdk_types(demo: Signer, clock: Clock) -> None:
    entries = list(jobs_at(demo, clock, 0).values())
    migration = body_of(demo, JOBS, Region=DEMO_REGION)["DtsJobList"]
    for item in entries + migration:
        assert isinstance(item["Delay"], int) and isinstance(item["Checkpoint"], str)
        for name in ("CpuUsage", "MemUsage"):
            assert isinstance(item[name], str) and float(item[name]) >= 0
        assert isinstance(item["DuUsage"], int)
        assert isinstance(item["MaxDu"], float) and isinstance(item["MinDu"], float)
        assert set(item["Performance"]) == {"Rps", "Flow"}
        assert isinstance(item["RetryState"]["Retrying"], bool)
        for kind in ("FullDataCheckStatus", "IncDataCheckStatus", "StructureDataCheckStatus"):
            assert set(item[kind]) == {"Status", "Percent", "Progress", "ErrorMessage"}
        assert {tag["TagKey"] for tag in item["TagList"]} == {"team", "env"}
        assert item["DbObject"].startswith("{")
    assert migration[0]["DtsInstanceID"] == DEMO_MIGRATION_JOB_ID
    lean = body_of(demo, JOBS, Region=DEMO_REGION, JobType="SYNC", WithoutDbList="true")
    assert not any("DbObject" in item for item in lean["DtsJobList"])


def test_demo_detail_follows_the_listing(demo: Signer, clock: Clock) -> None:
    listed = jobs_at(demo, clock, 200)
    for job_id, entry in listed.items():
        detail = body_of(demo, DETAIL, DtsInstanceID=job_id, RegionId=DEMO_REGION)
        assert detail["Delay"] == entry["Delay"] * 1000
        assert detail["Checkpoint"] == int(entry["Checkpoint"])
        assert (detail["Status"], detail["RetryState"]) == (entry["Status"], entry["RetryState"])
        [sub] = detail["SubSyncJob"]
        assert sub["Performance"] == entry["Performance"]
        assert sub["RetryState"]["ErrMsg"] == entry["RetryState"]["ErrMessage"]  # its model
        assert "ErrMessage" not in sub["RetryState"]
        assert "FullDataCheck" not in detail["MigrationMode"]  # not in the detail's model
        by_job_id = body_of(demo, DETAIL, DtsJobId=entry["DtsJobId"])
        assert by_job_id["DtsInstanceID"] == job_id
    unknown = demo.v1(DETAIL, {"DtsInstanceID": "dtsinosuchjob"}).json()
    assert (unknown["Success"], unknown["ErrCode"]) == (False, "InvalidJobId")


def test_demo_offset_starts_the_evolution_later(clock: Clock) -> None:
    simulator = start_simulator("127.0.0.1", 0, clock=clock, demo_offset=330)
    try:
        late = Signer(simulator, clock, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
        shifted = jobs_at(late, clock, 0)
    finally:
        simulator.close()
    reference = start_simulator("127.0.0.1", 0, clock=clock)
    try:
        signer = Signer(reference, clock, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
        clock.offset = 0
        base = clock()
        expected = jobs_at(signer, clock, 330)
    finally:
        reference.close()
    clock.offset = 0
    for job_id in (ORDERS, ANALYTICS, BILLING):
        assert shifted[job_id]["Delay"] == expected[job_id]["Delay"]
        assert shifted[job_id]["RetryState"] == expected[job_id]["RetryState"]
    assert shifted[ANALYTICS]["Delay"] == 530
    assert int(shifted[ANALYTICS]["Checkpoint"]) == int(base - 530)


def test_the_suspended_jobs_checkpoint_never_flickers() -> None:
    """The elapsed time has a fraction of a second that changes between scrapes, and the
    frozen checkpoint must not move by a second because of it (the alert on a stalled
    checkpoint watches it for changes)."""
    analytics = ANALYTICS
    seen = set()
    for step in range(200):
        t = 60.0 + step * 2.0
        fraction = (step % 7) * 0.13  # t's fraction of a second, as a real clock has
        entry = demo_health(analytics, "job", 1_790_000_000.5 + t + fraction, t + fraction)
        assert entry is not None
        seen.add(entry["Checkpoint"])
    assert len(seen) == 1
