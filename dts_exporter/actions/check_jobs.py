"""DescribeCheckJobs: the data verification jobs of a synchronization job, with their counts.

Called once per job on a slow cadence of its own (verification.refresh_seconds), since a
verification moves slowly; CheckType 3 asks for full and incremental checks at once, paged
30 at a time by TotalRecordCount. A job without verification has an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.actions.spec import Action
from dts_exporter.base.api import DESCRIBE_CHECK_JOBS
from dts_exporter.base.families import Builder, Metric, Options
from dts_exporter.base.fields import Fields, entries, list_field
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import ONE_AT_A_TIME, Paging, fetch_pages

NAME = DESCRIBE_CHECK_JOBS
PAGE_SIZE = 30  # the request model: 30, 50 or 100
MAX_PAGES = 100
CHECK_TYPES = {"1": "full", "2": "incremental"}


@dataclass(frozen=True)
class CheckJob:
    check_type: str  # full, incremental, or Other
    check_job: str  # JobStepId (or the check's name)
    passed: bool | None  # Status 0: passed, 1: failed
    diff_rows: float | None
    checked_rows: float | None
    total_rows: float | None


@dataclass(frozen=True)
class CheckJobs:
    checks: tuple[CheckJob, ...]
    problems: tuple[str, ...] = ()
    pages: int = 1


def request(
    client: DtsClient,
    job_id: str,
    *,
    region: str | None = None,
    deadline: float | None = None,
    paging: Paging = ONE_AT_A_TIME,
) -> dict[str, Any]:
    def page(number: int) -> Mapping[str, Any]:
        # No RegionId: the request model has none (the endpoint says the region).
        params = {"InstanceId": job_id, "CheckType": "3", "PageSize": str(PAGE_SIZE)}
        params["PageNumber"] = str(number)
        return client.call(NAME, params, region=region, deadline=deadline)

    return fetch_pages(
        page,
        ("CheckJobs",),
        PAGE_SIZE,
        max_pages=MAX_PAGES,
        action=NAME,
        total_field="TotalRecordCount",
        paging=paging,
    )


def fetch(
    client: DtsClient, target: Target, deadline: float | None, paging: Paging = ONE_AT_A_TIME
) -> CheckJobs:
    body = request(client, target.job_id, region=target.region, deadline=deadline, paging=paging)
    return parse(body)


def parse(body: Mapping[str, Any]) -> CheckJobs:
    problems: list[str] = []
    checks: dict[tuple[str, str], CheckJob] = {}
    for i, entry in entries(list_field(body, "CheckJobs"), "CheckJobs", problems):
        f = Fields(entry, f"CheckJobs[{i}]", problems)
        raw_type = f.text("CheckType")
        status = f.text("Status")
        check = CheckJob(
            check_type=CHECK_TYPES.get(raw_type, "Other" if raw_type else "Unknown"),
            check_job=f.text("JobStepId") or f.text("JobName") or str(i),
            passed=True if status == "0" else False if status == "1" else None,
            diff_rows=f.number("DiffCount"),
            checked_rows=f.number("FinishCount"),
            total_rows=f.number("TotalCount"),
        )
        checks.setdefault((check.check_type, check.check_job), check)
    pages = body.get("PageCount")
    pages = pages if isinstance(pages, int) else 1
    return CheckJobs(tuple(checks.values()), tuple(problems), pages)


CHECK = ("job_id", "check_type", "check_job")

DIFF_ROWS = Metric(
    "dts_data_verification_diff_rows",
    "Rows a data verification found inconsistent (DescribeCheckJobs DiffCount).",
    CHECK,
)
CHECKED_ROWS = Metric(
    "dts_data_verification_checked_rows",
    "Rows a data verification has checked (FinishCount).",
    CHECK,
)
TOTAL_ROWS = Metric(
    "dts_data_verification_total_rows",
    "Rows a data verification is to check (TotalCount).",
    CHECK,
)
PASSED = Metric(
    "dts_data_verification_passed",
    "1 when the data verification passed, 0 when it failed (Status 0 or 1).",
    CHECK,
)
METRICS = (DIFF_ROWS, CHECKED_ROWS, TOTAL_ROWS, PASSED)


def families(b: Builder, target: Target, record: CheckJobs, options: Options) -> None:
    for check in record.checks:
        ids = (target.job_id, check.check_type, check.check_job)
        b.add(DIFF_ROWS, ids, check.diff_rows)
        b.add(CHECKED_ROWS, ids, check.checked_rows)
        b.add(TOTAL_ROWS, ids, check.total_rows)
        b.add(PASSED, ids, None if check.passed is None else float(check.passed))


def summary(record: CheckJobs) -> str:
    diffs = sum(check.diff_rows or 0 for check in record.checks)
    return f"{len(record.checks)} verification(s), {diffs:g} differing rows"


ACTION = Action(
    name=NAME,
    scope="job",
    metrics=METRICS,
    fetch=fetch,
    settled=lambda record: False,
    families=families,
    summary=summary,
    pages=lambda record: record.pages,
)
