"""DescribeDtsJobDetail: one job's state, for a monitored job the job list does not return.

Its Delay is in milliseconds; its throughput is per SubSyncJob. Called only for jobs that
DescribeDtsJobs left out of its answer, so that every monitored job has a state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dts_exporter.actions import job_state
from dts_exporter.actions.job_state import JobState
from dts_exporter.actions.spec import Action
from dts_exporter.base.api import DESCRIBE_DTS_JOB_DETAIL
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import ONE_AT_A_TIME, Paging

NAME = DESCRIBE_DTS_JOB_DETAIL


def request(
    client: DtsClient, job_id: str, *, region: str | None = None, deadline: float | None = None
) -> dict[str, Any]:
    params = {"DtsInstanceID": job_id, "RegionId": region or client.region}
    return client.call(NAME, params, region=region, deadline=deadline)


def parse(body: Mapping[str, Any], region: str) -> JobState:
    return job_state.parse_entry(body, "", region, detail=True)


def fetch(
    client: DtsClient, target: Target, deadline: float | None, paging: Paging = ONE_AT_A_TIME
) -> JobState:
    """One job's state (one page: `paging` is not used)."""
    region = target.region or client.region
    return parse(request(client, target.job_id, region=region, deadline=deadline), region)


ACTION = Action(
    name=NAME,
    scope="job",
    metrics=(),  # the same series as DescribeDtsJobs: declared in job_state
    fetch=fetch,
    settled=lambda state: False,
    families=job_state.families,
    summary=job_state.summary,
    notes=job_state.notes,
)
