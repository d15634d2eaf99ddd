"""DTS `DescribeDtsJobs` (version 2020-01-01): the job list discovery and job health read.

Parameters (as the SDK's `DescribeDtsJobsRequest` documents them):
- `Region`, or the deprecated `RegionId` (`Region` wins); one is required, else 400
  `MissingParameter`;
- `JobType`: `MIGRATION` (default), `SYNC` or `SUBSCRIBE` (any case);
- `PageNumber`: an integer >= 1 (default 1); `PageSize`: 10, 20 or 30 (default 20);
- filters: `DtsInstanceId` and `DtsJobId` (comma-separated lists of ids: only those jobs),
  `Status` (one status, exact), `Tags` (below);
- `WithoutDbList`: `true` leaves `DbObject` out of every entry (default `false`).
A value outside its documented range or set is 400 `InvalidParameter`; parameters the
simulator does not model (`Type`, `Params`, `OrderColumn`, `ResourceGroupId`...) are
ignored.

`Tags` is the JSON the SDK's documentation shows: a list of `{"key": ..., "value": ...}`
objects, e.g. `[{"key": "team", "value": "payments"}]`. A job matches when its `TagList`
holds, for every object, an entry with that `TagKey` and, when `value` is given and not
empty, that `TagValue`. Anything else (not JSON, not a list of objects with a string
`key`) is 400 `InvalidParameter`.

The answer: `{RequestId, Success: true, HttpStatusCode: 200, TotalRecordCount,
PageNumber, PageRecordCount, DtsJobList}` where `DtsJobList` holds the region's entries
that pass the filters, in recorded order. Entries come from a scenario's `dts_jobs`
(region to recorded entries, returned as recorded) or from the built-in demo
(`demo_jobs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.calls import (
    MAX_INT,
    bool_param,
    choice_param,
    int_param,
    invalid_parameter,
    missing_parameter,
    paged_list,
)
from dts_exporter.simulator.scenario import DTS_JOB_TYPES

PAGE_SIZES = (10, 20, 30)
_TAGS_RULE = 'It must be a JSON list of {"key": ..., "value": ...} objects'


@dataclass(frozen=True)
class JobsQuery:
    region: str
    job_type: str
    page_number: int
    page_size: int
    instance_ids: frozenset[str] | None = None
    job_ids: frozenset[str] | None = None
    status: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    without_db_list: bool = False


def id_list(params: Mapping[str, str], name: str) -> frozenset[str] | None:
    """A comma-separated list of ids, or None when the parameter is absent or empty."""
    ids = frozenset(part.strip() for part in params.get(name, "").split(",") if part.strip())
    return ids or None


def _tags(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    raw = params.get("Tags", "")
    if not raw.strip():
        return ()
    try:
        decoded = json.loads(raw)
    except ValueError:
        raise invalid_parameter("Tags", raw, _TAGS_RULE) from None
    if not isinstance(decoded, list):
        raise invalid_parameter("Tags", raw, _TAGS_RULE)
    tags: list[tuple[str, str]] = []
    for item in decoded:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise invalid_parameter("Tags", raw, _TAGS_RULE)
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise invalid_parameter("Tags", raw, _TAGS_RULE)
        tags.append((item["key"], value or ""))
    return tuple(tags)


def parse_query(params: Mapping[str, str]) -> JobsQuery:
    """Validate the parameters of a DescribeDtsJobs call (raises ApiError)."""
    region = params.get("Region", "").strip() or params.get("RegionId", "").strip()
    if not region:
        raise missing_parameter("Region")
    raw_type = params.get("JobType", "").strip()
    job_type = raw_type.upper() or "MIGRATION"
    if job_type not in DTS_JOB_TYPES:
        raise invalid_parameter(
            "JobType", raw_type, f"It must be one of {', '.join(DTS_JOB_TYPES)}"
        )
    status = params.get("Status", "").strip()
    return JobsQuery(
        region=region,
        job_type=job_type,
        page_number=int_param(params, "PageNumber", 1, 1, MAX_INT),
        page_size=choice_param(params, "PageSize", 20, PAGE_SIZES),
        instance_ids=id_list(params, "DtsInstanceId"),
        job_ids=id_list(params, "DtsJobId"),
        status=status or None,
        tags=_tags(params),
        without_db_list=bool_param(params, "WithoutDbList"),
    )


def _has_tags(entry: Mapping[str, Any], tags: Sequence[tuple[str, str]]) -> bool:
    listed = entry.get("TagList")
    pairs = [
        (item.get("TagKey"), item.get("TagValue"))
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, Mapping)
    ]
    return all(
        any(tag_key == key and (not value or tag_value == value) for tag_key, tag_value in pairs)
        for key, value in tags
    )


def matches(entry: Mapping[str, Any], query: JobsQuery) -> bool:
    """Whether a DtsJobList entry passes the query's job type and filters."""
    if str(entry.get("JobType", "")).strip().upper() != query.job_type:
        return False
    if query.instance_ids is not None and entry.get("DtsInstanceID") not in query.instance_ids:
        return False
    if query.job_ids is not None and entry.get("DtsJobId") not in query.job_ids:
        return False
    if query.status is not None and entry.get("Status") != query.status:
        return False
    return _has_tags(entry, query.tags)


def without_db_list(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry without its object lists (`DbObject`, also in a two-way `ReverseJob`)."""
    trimmed = {key: value for key, value in entry.items() if key != "DbObject"}
    reverse = trimmed.get("ReverseJob")
    if isinstance(reverse, Mapping):
        trimmed["ReverseJob"] = {k: v for k, v in reverse.items() if k != "DbObject"}
    return trimmed


def list_jobs(entries: Sequence[Mapping[str, Any]], query: JobsQuery) -> dict[str, Any]:
    """The answer body (without RequestId) for the region's `entries`."""
    matching = [entry for entry in entries if matches(entry, query)]
    body = paged_list(matching, query.page_number, query.page_size, "DtsJobList")
    if query.without_db_list:
        body["DtsJobList"] = [without_db_list(entry) for entry in body["DtsJobList"]]
    return body
