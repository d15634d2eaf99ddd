"""The jobs' own state at the fewest calls: 30 jobs per DescribeDtsJobs call per region,
one DescribeDtsJobDetail per job the list leaves out, on the cadence asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from dts_exporter.config import Config, JobConfig, JobStatusConfig, VerificationConfig
from dts_exporter.startup import build_exporter
from tests.conftest import DEMO_CREDS, Scrape, job_list, make_tables, start_scenario


def state_calls(
    tmp_path: Path, listed: int, unlisted: int = 0, **settings: object
) -> dict[str, int]:
    ids = [f"dtsj{i:05d}" for i in range(listed + unlisted)]
    scenario = {
        "jobs": {job_id: {"DataInitializationDetails": make_tables(1)} for job_id in ids},
        "dts_jobs": job_list(*ids[:listed]),
    }
    sim = start_scenario(tmp_path, scenario)
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=tuple(JobConfig(job_id) for job_id in ids),
        verification=VerificationConfig(enabled=False),
        max_requests_per_second=0,
    )
    exporter = build_exporter(config, DEMO_CREDS)
    try:
        data = Scrape(exporter.registry)
        up = [
            value
            for (name, labels), value in data.values.items()
            if name == "dts_up"
            and dict(labels)["action"] in ("DescribeDtsJobs", "DescribeDtsJobDetail")
        ]
        assert len(up) == len(ids)  # every job has a state, or says why not
        counts = sim.request_counts()
        return {
            "list": counts.get("DescribeDtsJobs", 0),
            "detail": counts.get("DescribeDtsJobDetail", 0),
            "up": int(sum(up)),
        }
    finally:
        exporter.close()
        sim.close()


@pytest.mark.parametrize(
    ("jobs", "calls"), [(3, 1), (30, 1), (31, 2), pytest.param(1000, 34, marks=pytest.mark.slow)]
)
def test_one_list_call_per_30_jobs(tmp_path: Path, jobs: int, calls: int) -> None:
    assert state_calls(tmp_path, jobs) == {"list": calls, "detail": 0, "up": jobs}


def test_a_job_the_list_leaves_out_gets_its_detail(tmp_path: Path) -> None:
    # the unlisted job has no detail either in this scenario: its dts_up says so
    assert state_calls(tmp_path, 5, unlisted=2) == {"list": 1, "detail": 2, "up": 5}


def test_the_state_is_read_on_its_own_cadence(tmp_path: Path) -> None:
    ids = ["dtsa", "dtsb"]
    scenario = {
        "jobs": {job_id: {"DataInitializationDetails": make_tables(1)} for job_id in ids},
        "dts_jobs": job_list(*ids),
    }
    sim = start_scenario(tmp_path, scenario)
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=tuple(JobConfig(job_id) for job_id in ids),
        job_status=JobStatusConfig(refresh_seconds=3600),
        verification=VerificationConfig(refresh_seconds=3600),
    )
    exporter = build_exporter(config, DEMO_CREDS)
    try:
        for _ in range(3):
            data = Scrape(exporter.registry)
            assert data.get("dts_job_status", job_id="dtsa", status="Synchronizing") == 1
        counts = sim.request_counts()
        assert counts["DescribeDtsJobs"] == 1  # then reused until due
        assert counts["DescribeCheckJobs"] == 2  # once per job
        assert counts["DescribeInitializationStatus"] == 6  # every scrape
    finally:
        exporter.close()
        sim.close()


def test_job_status_and_verification_can_be_turned_off(tmp_path: Path) -> None:
    sim = start_scenario(tmp_path, {"jobs": {"dtsa": {"DataInitializationDetails": []}}})
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=(JobConfig("dtsa"),),
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
    )
    exporter = build_exporter(config, DEMO_CREDS)
    try:
        data = Scrape(exporter.registry)
        assert (
            data.get("dts_up", action="DescribeInitializationStatus", job_id="dtsa", task_id="")
            == 1
        )
        assert not [name for (name, _) in data.values if name.startswith("dts_job_status")]
        counts = sim.request_counts()
        assert counts.get("DescribeDtsJobs", 0) == counts.get("DescribeCheckJobs", 0) == 0
    finally:
        exporter.close()
        sim.close()
