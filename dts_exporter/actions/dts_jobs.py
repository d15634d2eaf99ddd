"""DescribeDtsJobs: a region's synchronization jobs, for discovery.

Called once per region and refresh, paged by PageNumber and TotalRecordCount. Each listed
job gives its id, name, status, engines, delay and checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.base.api import DESCRIBE_DTS_JOBS
from dts_exporter.base.families import Builder, Metric
from dts_exporter.base.fields import Fields, clean_text, entries, list_field
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import fetch_pages

NAME = DESCRIBE_DTS_JOBS
PAGE_SIZE = 100
MAX_PAGES = 100
TOTAL = "TotalRecordCount"


@dataclass(frozen=True)
class DiscoveredJob:
    """A synchronization job as DescribeDtsJobs lists it."""

    job_id: str  # DtsInstanceID: what DescribeInitializationStatus takes
    name: str
    region: str
    status: str
    source_engine: str
    destination_engine: str
    delay_seconds: float | None
    checkpoint_timestamp: float | None


@dataclass(frozen=True)
class JobList:
    jobs: tuple[DiscoveredJob, ...]
    total: int | None  # TotalRecordCount; None when absent
    problems: tuple[str, ...] = ()


def request(client: DtsClient, region: str, *, deadline: float | None = None) -> dict[str, Any]:
    """Every page of the region's synchronization jobs."""

    def page(number: int) -> Mapping[str, Any]:
        params = {"Region": region, "JobType": "SYNC", "PageNumber": str(number)}
        params["PageSize"] = str(PAGE_SIZE)
        return client.call(NAME, params, region=region, deadline=deadline)

    lists = ("DtsJobList",)
    return fetch_pages(page, lists, PAGE_SIZE, max_pages=MAX_PAGES, action=NAME, total_field=TOTAL)


def fetch(client: DtsClient, region: str, deadline: float | None = None) -> JobList:
    return parse(request(client, region, deadline=deadline), region)


def parse(body: Mapping[str, Any], region: str) -> JobList:
    """The jobs of an answer (one page or merged pages), each job once."""
    problems: list[str] = []
    jobs: dict[str, DiscoveredJob] = {}
    for i, entry in entries(list_field(body, "DtsJobList"), "DtsJobList", problems):
        f = Fields(entry, f"DtsJobList[{i}]", problems)
        job_id = f.text("DtsInstanceID") or f.text("DtsJobId")
        if not job_id or job_id in jobs:
            continue
        delay = f.number("Delay")
        if delay is not None and f.text("JobType").upper() == "MIGRATION":
            delay /= 1000.0  # milliseconds for migration jobs, seconds for synchronization
        jobs[job_id] = DiscoveredJob(
            job_id=job_id,
            name=f.text("DtsJobName"),
            region=region,
            status=f.text("Status"),
            source_engine=_engine(entry.get("SourceEndpoint")),
            destination_engine=_engine(entry.get("DestinationEndpoint")),
            delay_seconds=delay,
            checkpoint_timestamp=f.number("Checkpoint"),
        )
    total = Fields(body, "", problems).number(TOTAL)
    return JobList(tuple(jobs.values()), None if total is None else int(total), tuple(problems))


def _engine(endpoint: object) -> str:
    if isinstance(endpoint, Mapping):
        value = endpoint.get("EngineName")
        if isinstance(value, str):
            return clean_text(value).strip()
    return ""


# -- metrics ------------------------------------------------------------------------------

JOB_DELAY = Metric(
    "dts_job_delay_seconds",
    "Synchronization delay DescribeDtsJobs reports for a discovered job (as of its last refresh).",
    ("job_id",),
)
JOB_CHECKPOINT = Metric(
    "dts_job_checkpoint_timestamp_seconds",
    "The point in time a discovered job has synchronized up to (DescribeDtsJobs Checkpoint).",
    ("job_id",),
)
DISCOVERED_JOBS = Metric(
    "dts_exporter_discovered_jobs",
    "Synchronization jobs discovery currently lists per region (after name_pattern).",
    ("region",),
)
DISCOVERY_SUCCESS = Metric(
    "dts_exporter_discovery_last_success_timestamp_seconds",
    "When discovery last listed a region's jobs successfully.",
    ("region",),
)

JOB_METRICS = (JOB_DELAY, JOB_CHECKPOINT)
EXPORTER_METRICS = (DISCOVERED_JOBS, DISCOVERY_SUCCESS)


def job_families(b: Builder, job_id: str, found: DiscoveredJob) -> None:
    b.add(JOB_DELAY, (job_id,), found.delay_seconds)
    b.add(JOB_CHECKPOINT, (job_id,), found.checkpoint_timestamp)


def region_families(b: Builder, region: str, jobs: int, last_success: float | None) -> None:
    b.add(DISCOVERED_JOBS, (region,), float(jobs))
    b.add(DISCOVERY_SUCCESS, (region,), last_success)
