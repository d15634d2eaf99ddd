"""The built-in demo's DescribeDtsJobs entries and DescribeCheckJobs entries.

In `cn-hangzhou` (data: `data/dts_jobs.yaml`): one `SYNC` entry per demo job
(`DtsInstanceID` = the job id DescribeInitializationStatus takes, endpoints and
initialization progress from the demo job) and one `MIGRATION` job (`Delay` in
milliseconds). Their state, delay, retries, performance, tags and verification come from
`demo_health` (data: `data/job_health.yaml`); DescribeDtsJobDetail derives from these
entries (`job_state`). Pure functions of the clock and of the seconds elapsed since start.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dts_exporter.simulator.demo import DEMO_JOBS, demo_job_body, demo_job_endpoints, load_data
from dts_exporter.simulator.demo_health import demo_check_entries, demo_health
from dts_exporter.simulator.identities import utc_text

_DEMO: dict[str, Any] = load_data("dts_jobs.yaml")
DEMO_REGION: str = _DEMO["region"]
DEMO_MIGRATION_JOB_ID: str = _DEMO["migration"]["job_id"]
_DAY = 86400.0
_CHARGE_TYPES = {"PrePaid": "PREPAY", "PostPaid": "POSTPAY"}


def _stable_id(prefix: str, *parts: str, length: int = 15) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return prefix + digest[: length - len(prefix)]


def demo_dts_job_id(job_id: str) -> str:
    """The DtsJobId of a demo job (by its DtsInstanceID)."""
    return _stable_id("", job_id, "job")


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


def _entry(
    job_id: str, name: str, job_type: str, database: str, created: float, now: float, t: float
) -> dict[str, Any]:
    dts_job_id = demo_dts_job_id(job_id)
    entry: dict[str, Any] = {
        "DtsJobId": dts_job_id,
        "DtsInstanceID": job_id,
        "DtsJobName": name,
        "JobType": job_type,
        "CreateTime": utc_text(created),
        "PayType": _DEMO["pay_type"],
        "DtsJobClass": _DEMO["job_class"],
        "DbObject": json.dumps({database: {"name": database, "all": True}}),
    }
    entry.update(demo_health(job_id, dts_job_id, now, t) or {})
    return entry


def demo_dts_jobs(region: str, now: float, elapsed: float) -> list[dict[str, Any]]:
    """The demo's DtsJobList for `region` at `now` (the clock), `elapsed` since start."""
    if region != DEMO_REGION:
        return []
    elapsed = max(elapsed, 0.0)
    started = now - elapsed
    entries: list[dict[str, Any]] = []
    for index, job in enumerate(DEMO_JOBS):
        engine, source_db, dest_db = demo_job_endpoints(job.job_id) or ("MySQL", "", "")
        created = started - (index + 1) * _DAY
        entry = _entry(job.job_id, job.name, "SYNC", source_db, created, now, elapsed)
        entry["SourceEndpoint"] = _endpoint(engine, source_db, job.job_id, "source")
        entry["DestinationEndpoint"] = _endpoint(engine, dest_db, job.job_id, "destination")
        structure, data = _init_status(job.job_id, elapsed)
        entry["StructureInitializationStatus"] = structure
        entry["DataInitializationStatus"] = data
        entry["DataSynchronizationStatus"] = _stage("Migrating", 95, 0)
        entries.append(entry)
    spec = _DEMO["migration"]
    created = started - spec["created_days_ago"] * _DAY
    database = spec["source"]["database"]
    migration = _entry(
        DEMO_MIGRATION_JOB_ID, spec["name"], "MIGRATION", database, created, now, elapsed
    )
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


def demo_check_jobs(instance_id: str | None, now: float, elapsed: float) -> list[dict[str, Any]]:
    """The demo's DescribeCheckJobs entries: of one job, or of all when `instance_id` is None."""
    found: list[dict[str, Any]] = []
    for job in DEMO_JOBS:
        if instance_id is not None and job.job_id != instance_id:
            continue
        dts_job_id = demo_dts_job_id(job.job_id)
        pay_type = (demo_health(job.job_id, dts_job_id, now, elapsed) or {}).get("PayType")
        for check in demo_check_entries(job.job_id, now, elapsed):
            found.append(
                {
                    "DtsInstanceID": job.job_id,
                    "DtsJobId": dts_job_id,
                    "GroupId": dts_job_id,
                    "JobStepId": _stable_id("", job.job_id, check["JobName"], length=12),
                    **check,
                    "InstanceClass": _DEMO["job_class"],
                    "ChargeType": _CHARGE_TYPES[pay_type or _DEMO["pay_type"]],
                    "RegionId": DEMO_REGION,
                }
            )
    return found
