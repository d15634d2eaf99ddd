"""DTS `DescribeDtsJobs` (version 2020-01-01): the job list discovery reads.

Parameters: `Region` or `RegionId` (`Region` wins; one is required, else 400
`MissingParameter`), `JobType` (`MIGRATION` by default, `SYNC`, `SUBSCRIBE`; another value
is 400 `InvalidParameter`), `PageNumber` (default 1, >= 1) and `PageSize` (default 20,
1-100; out of range: 400 `InvalidParameter`). The answer: `{RequestId, Success: true,
HttpStatusCode: 200, TotalRecordCount, PageNumber, PageRecordCount, DtsJobList}` where
`DtsJobList` holds the region's entries whose `JobType` matches, in recorded order.

Entries come from a scenario's `dts_jobs` (region to recorded `DtsJobList` entries) or,
without a scenario, from the built-in demo (its data: `data/dts_jobs.yaml`): in
`cn-hangzhou` one `SYNC` entry per demo job (`DtsInstanceID` = the job id
DescribeInitializationStatus takes, `Delay` wandering in seconds, `Checkpoint` = now -
delay) and one `MIGRATION` job (`Delay` in milliseconds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.calls import MAX_INT, int_param
from dts_exporter.simulator.demo import DEMO_JOBS, demo_job_body, demo_job_endpoints, load_data
from dts_exporter.simulator.demo_tasks import wandering_delay
from dts_exporter.simulator.identities import utc_text
from dts_exporter.simulator.render import ApiError
from dts_exporter.simulator.scenario import DTS_JOB_TYPES

_DEMO: dict[str, Any] = load_data("dts_jobs.yaml")
DEMO_REGION: str = _DEMO["region"]
DEMO_MIGRATION_JOB_ID: str = _DEMO["migration"]["job_id"]
_DAY = 86400.0


@dataclass(frozen=True)
class JobsQuery:
    region: str
    job_type: str
    page_number: int
    page_size: int


def parse_query(params: Mapping[str, str]) -> JobsQuery:
    """Validate the parameters of a DescribeDtsJobs call (raises ApiError)."""
    region = params.get("Region", "").strip() or params.get("RegionId", "").strip()
    if not region:
        raise ApiError(
            400,
            "MissingParameter",
            'The input parameter "Region" that is mandatory for processing this request '
            "is not supplied.",
        )
    raw_type = params.get("JobType", "").strip()
    job_type = raw_type.upper() or "MIGRATION"
    if job_type not in DTS_JOB_TYPES:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Specified parameter JobType is not valid: {raw_type!r}. "
            f"It must be one of {', '.join(DTS_JOB_TYPES)}.",
        )
    page_size = int_param(params, "PageSize", 20, 1, 100)
    page_number = int_param(params, "PageNumber", 1, 1, MAX_INT)
    return JobsQuery(region, job_type, page_number, page_size)


def list_jobs(entries: Sequence[Mapping[str, Any]], query: JobsQuery) -> dict[str, Any]:
    """The answer body (without RequestId) for the region's `entries`."""
    matching = [
        entry
        for entry in entries
        if str(entry.get("JobType", "")).strip().upper() == query.job_type
    ]
    start = (query.page_number - 1) * query.page_size
    page = matching[start : start + query.page_size]
    return {
        "Success": True,
        "HttpStatusCode": 200,
        "TotalRecordCount": len(matching),
        "PageNumber": query.page_number,
        "PageRecordCount": len(page),
        "DtsJobList": [dict(entry) for entry in page],
    }


# --- the built-in demo ------------------------------------------------------------------


def _stable_id(prefix: str, *parts: str, length: int = 15) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return prefix + digest[: length - len(prefix)]


def _endpoint(engine: str, database: str, job_id: str, side: str) -> dict[str, Any]:
    kind = _DEMO["engines"][engine]
    return {
        "EngineName": engine,
        "InstanceType": kind["instance_type"],
        "InstanceID": _stable_id(kind["instance_prefix"], job_id, side, length=22),
        "Region": DEMO_REGION,
        "DatabaseName": database,
    }


def _stage(status: str, percent: int, progress: int) -> dict[str, Any]:
    return {
        "Status": status,
        "Percent": str(percent),
        "Progress": str(progress),
        "ErrorMessage": "",
    }


def _progress(items: list[dict[str, Any]], done_count: int, total: int) -> dict[str, Any]:
    started = any(item.get("Status") != "NotStarted" for item in items)
    finished = all(item.get("Status") in ("Finished", "Failed") for item in items)
    status = "Finished" if finished else ("Migrating" if started else "NotStarted")
    percent = 100 if finished else min(99, done_count * 100 // max(total, 1))
    return _stage(status, percent, done_count)


def _init_status(job_id: str, elapsed: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(StructureInitializationStatus, DataInitializationStatus) from the demo job's body."""
    body = demo_job_body(job_id, elapsed) or {}
    structure: list[dict[str, Any]] = body.get("StructureInitializationDetails", [])
    data: list[dict[str, Any]] = body.get("DataInitializationDetails", [])
    objects_done = sum(1 for item in structure if item.get("Status") in ("Finished", "Failed"))
    rows = sum(max(int(item.get("FinishRowNum") or 0), 0) for item in data)
    total = sum(int(item.get("TotalRowNum") or 0) for item in data)
    return _progress(structure, objects_done, len(structure)), _progress(data, rows, total)


def _common(
    job_id: str, name: str, job_type: str, delay: int, checkpoint: float, created: float
) -> dict[str, Any]:
    return {
        "DtsJobId": _stable_id("", job_id, "job"),
        "DtsInstanceID": job_id,
        "DtsJobName": name,
        "JobType": job_type,
        "Delay": delay,
        "Checkpoint": int(checkpoint),
        "ErrorMessage": "",
        "CreateTime": utc_text(created),
        "PayType": _DEMO["pay_type"],
        "DtsJobClass": _DEMO["job_class"],
    }


def demo_dts_jobs(region: str, now: float, elapsed: float) -> list[dict[str, Any]]:
    """The demo's DtsJobList for `region` at `now` (the clock), `elapsed` since start."""
    if region != DEMO_REGION:
        return []
    elapsed = max(elapsed, 0.0)
    started = now - elapsed
    entries: list[dict[str, Any]] = []
    for index, job in enumerate(DEMO_JOBS):
        engine, source_db, dest_db = demo_job_endpoints(job.job_id) or ("MySQL", "", "")
        delay = wandering_delay(elapsed + 600.0 * index)
        created = started - (index + 1) * _DAY
        entry = _common(job.job_id, job.name, "SYNC", delay, now - delay, created)
        entry["Status"] = "Synchronizing"
        entry["SourceEndpoint"] = _endpoint(engine, source_db, job.job_id, "source")
        entry["DestinationEndpoint"] = _endpoint(engine, dest_db, job.job_id, "destination")
        structure, data = _init_status(job.job_id, elapsed)
        entry["StructureInitializationStatus"] = structure
        entry["DataInitializationStatus"] = data
        entry["DataSynchronizationStatus"] = _stage("Migrating", 95, 0)
        entries.append(entry)
    spec = _DEMO["migration"]
    delay_ms = wandering_delay(elapsed + 2400.0) * 1000 + int(elapsed * 37) % 1000
    migration = _common(
        DEMO_MIGRATION_JOB_ID,
        spec["name"],
        "MIGRATION",
        delay_ms,
        now - delay_ms / 1000.0,
        started - spec["created_days_ago"] * _DAY,
    )
    migration["Status"] = "Migrating"
    for key, side in (("SourceEndpoint", "source"), ("DestinationEndpoint", "destination")):
        endpoint = spec[side]
        migration[key] = _endpoint(
            endpoint["engine"], endpoint["database"], DEMO_MIGRATION_JOB_ID, side
        )
    migration["StructureInitializationStatus"] = _stage("Finished", 100, spec["structure_objects"])
    migration["DataInitializationStatus"] = _stage("Finished", 100, spec["data_rows"])
    migration["DataSynchronizationStatus"] = _stage("Migrating", 95, 0)
    entries.append(migration)
    return entries
