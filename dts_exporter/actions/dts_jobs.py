"""DescribeDtsJobs: a region's synchronization jobs with their state.

Two uses, one request shape (JobType=SYNC, WithoutDbList=true, PageSize 30, the most the
service takes): discovery lists the whole region (optionally only jobs with some tags)
every discovery.refresh_seconds; job status asks for the monitored jobs by id, 30 ids per
call (`DtsInstanceId`, comma-separated), on every scrape. Paged by TotalRecordCount and by
short pages. Delay is in seconds for synchronization jobs (milliseconds for migration).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.actions import dts_job_detail, job_state
from dts_exporter.actions.job_state import JobState
from dts_exporter.actions.spec import Action
from dts_exporter.base.api import DESCRIBE_DTS_JOBS
from dts_exporter.base.families import Builder, Metric
from dts_exporter.base.fields import Fields, entries, list_field
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import ONE_AT_A_TIME, Paging, fetch_pages

NAME = DESCRIBE_DTS_JOBS
PAGE_SIZE = 30  # the request model: 10, 20 or 30
MAX_PAGES = 1000  # 30,000 jobs in a region: far beyond any account
TOTAL = "TotalRecordCount"
IDS_PER_CALL = PAGE_SIZE  # ids asked for at once: their answer fits one page


@dataclass(frozen=True)
class JobList:
    jobs: tuple[JobState, ...]  # each job once, synchronization jobs only
    total: int | None  # TotalRecordCount; None when absent
    problems: tuple[str, ...] = ()


def request(
    client: DtsClient,
    region: str,
    *,
    ids: Sequence[str] = (),
    tags: Sequence[tuple[str, str]] = (),
    deadline: float | None = None,
) -> dict[str, Any]:
    """Every page of the region's synchronization jobs (only `ids`, when given)."""
    params = {"Region": region, "JobType": "SYNC", "WithoutDbList": "true"}
    params["PageSize"] = str(PAGE_SIZE)
    if ids:
        params["DtsInstanceId"] = ",".join(ids)
    if tags:
        params["Tags"] = json.dumps([{"key": k, "value": v} for k, v in tags])

    def page(number: int) -> Mapping[str, Any]:
        return client.call(
            NAME, {**params, "PageNumber": str(number)}, region=region, deadline=deadline
        )

    lists = ("DtsJobList",)
    return fetch_pages(page, lists, PAGE_SIZE, max_pages=MAX_PAGES, action=NAME, total_field=TOTAL)


def fetch(
    client: DtsClient,
    region: str,
    *,
    ids: Sequence[str] = (),
    tags: Sequence[tuple[str, str]] = (),
    deadline: float | None = None,
) -> JobList:
    return parse(request(client, region, ids=ids, tags=tags, deadline=deadline), region)


def parse(body: Mapping[str, Any], region: str) -> JobList:
    """The synchronization jobs of an answer (one page or merged pages), each job once."""
    problems: list[str] = []
    jobs: dict[str, JobState] = {}
    for i, entry in entries(list_field(body, "DtsJobList"), "DtsJobList", problems):
        if Fields(entry, "", []).text("JobType").upper() in ("MIGRATION", "ONLINE", "SUBSCRIBE"):
            continue  # not a synchronization job (their Delay is even in other units)
        state = job_state.parse_entry(entry, f"DtsJobList[{i}]", region, detail=False)
        problems.extend(state.problems)
        if state.job_id and state.job_id not in jobs:
            jobs[state.job_id] = state
    total = Fields(body, "", problems).number(TOTAL)
    return JobList(tuple(jobs.values()), None if total is None else int(total), tuple(problems))


def fetch_one(
    client: DtsClient, target: Target, deadline: float | None, paging: Paging = ONE_AT_A_TIME
) -> JobState:
    """One job's state, as a collection gets it: listed by id, or its detail when the list
    leaves it out (for `check`; one page: `paging` is not used)."""
    region = target.region or client.region
    listed = fetch(client, region, ids=(target.job_id,), deadline=deadline)
    for state in listed.jobs:
        if state.job_id == target.job_id:
            return state
    return dts_job_detail.fetch(client, target, deadline)


# -- the exporter's own discovery metrics -------------------------------------------------

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
EXPORTER_METRICS = (DISCOVERED_JOBS, DISCOVERY_SUCCESS)


def region_families(b: Builder, region: str, jobs: int, last_success: float | None) -> None:
    b.add(DISCOVERED_JOBS, (region,), float(jobs))
    b.add(DISCOVERY_SUCCESS, (region,), last_success)


ACTION = Action(
    name=NAME,
    scope="job",
    metrics=job_state.METRICS,
    fetch=fetch_one,
    settled=lambda state: False,  # what people page on: read every time it is due
    families=job_state.families,
    summary=job_state.summary,
    notes=job_state.notes,
)
