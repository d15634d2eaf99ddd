"""DTS `DescribeCheckJobs` (version 2020-01-01): the data verification jobs of a job.

Parameters (the SDK's `DescribeCheckJobsRequest`, which marks none required):
- `InstanceId`: the DtsInstanceID whose check jobs to list (absent: every job's);
- `CheckType`: 1 (full), 2 (incremental) or 3 (all, the default);
- `CheckJobId`: only the check job with that `JobStepId`;
- `PageNumber`: an integer >= 1 (default 1); `PageSize`: 30, 50 or 100 (default 30);
- `JobName`, `ResourceGroupId`: accepted, not used.
A value outside its documented range or set is 400 `InvalidParameter`; other parameters
are ignored.

The answer: `{RequestId, Success: true, HttpStatusCode: 200, TotalRecordCount,
PageNumber, PageRecordCount, CheckJobs}`; `CheckJobs` entries (`DtsInstanceID`,
`DtsJobId`, `CheckType`, `Status` 0 passed / 1 failed, `DiffCount`, `FinishCount`,
`TotalCount`, `CheckPoint`, `JobStepId`, `JobName`...) come from a scenario's `check_jobs`
(DtsInstanceID to recorded entries, returned as recorded) or from the built-in demo
(`demo_jobs`). A job without verification, or an unknown one, has an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.calls import MAX_INT, choice_param, int_param, paged_list
from dts_exporter.simulator.scenario import check_type_of

PAGE_SIZES = (30, 50, 100)
CHECK_TYPES = (1, 2, 3)
ALL_CHECK_TYPES = 3


@dataclass(frozen=True)
class CheckQuery:
    instance_id: str | None
    check_type: int
    check_job_id: str | None
    page_number: int
    page_size: int


def parse_check_query(params: Mapping[str, str]) -> CheckQuery:
    """Validate the parameters of a DescribeCheckJobs call (raises ApiError)."""
    return CheckQuery(
        instance_id=params.get("InstanceId", "").strip() or None,
        check_type=choice_param(params, "CheckType", ALL_CHECK_TYPES, CHECK_TYPES),
        check_job_id=params.get("CheckJobId", "").strip() or None,
        page_number=int_param(params, "PageNumber", 1, 1, MAX_INT),
        page_size=choice_param(params, "PageSize", 30, PAGE_SIZES),
    )


def stored_check_jobs(
    check_jobs: Mapping[str, Sequence[Mapping[str, Any]]], instance_id: str | None
) -> list[Mapping[str, Any]]:
    """A scenario's entries for one job, or for every job when `instance_id` is None."""
    if instance_id is not None:
        return list(check_jobs.get(instance_id, ()))
    return [entry for entries in check_jobs.values() for entry in entries]


def list_check_jobs(entries: Sequence[Mapping[str, Any]], query: CheckQuery) -> dict[str, Any]:
    """The answer body (without RequestId) for the job's `entries`."""
    matching = [
        entry
        for entry in entries
        if (query.check_type == ALL_CHECK_TYPES or check_type_of(entry) == query.check_type)
        and (query.check_job_id is None or entry.get("JobStepId") == query.check_job_id)
    ]
    return paged_list(matching, query.page_number, query.page_size, "CheckJobs")
