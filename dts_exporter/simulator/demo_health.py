"""The built-in demo's job health: state, delay, retries, performance and verification.

What each demo job goes through is data, in `data/job_health.yaml` (its header gives the
formulas); this module turns it into the health fields of a DescribeDtsJobs entry and
into DescribeCheckJobs entries. Like the rest of the demo, everything is a pure function
of `now` (the clock) and `t`, the seconds elapsed since the simulator started, so
`demo_offset` shifts it like the other answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dts_exporter.simulator.demo import load_data
from dts_exporter.simulator.demo_tasks import wandering_delay
from dts_exporter.simulator.identities import utc_text

_DATA: dict[str, Any] = load_data("job_health.yaml")
_JOBS: dict[str, dict[str, Any]] = _DATA["jobs"]
_NOT_STARTED: dict[str, str] = _DATA["not_started_check"]
_DAY = 86400.0
_MIB = 1024.0 * 1024.0


def _wave(spec: Mapping[str, Any], t: float) -> int:
    swing = (1.0 - math.cos(2 * math.pi * t / spec["period"])) / 2.0
    jitter = spec["jitter"] * math.sin(2 * math.pi * t / 95.0 + 0.4)
    value: float = spec["base"] + spec["amplitude"] * swing + jitter
    return max(round(value), 0)


def status_and_delay(spec: Mapping[str, Any], t: float) -> tuple[str, int]:
    """(Status, Delay): Delay in seconds, in milliseconds for a migration job."""
    state = spec["state"]
    phase = spec.get("phase", 0.0)
    if state == "wave":
        return "Synchronizing", _wave(spec, t)
    if state == "retrying":
        return "Retrying", wandering_delay(t + phase)
    if state == "suspended":
        return "Suspending", int(spec["initial_delay"] + t)
    if state == "migrating":
        return "Migrating", wandering_delay(t + phase) * 1000 + int(t * 37) % 1000
    return "Synchronizing", wandering_delay(t + phase)


def _performance(spec: Mapping[str, Any], t: float) -> dict[str, str]:
    rps = 0.0
    if spec["state"] != "suspended":
        rps = spec["rps"] * (1.0 + 0.1 * math.sin(2 * math.pi * (t + spec.get("phase", 0)) / 240))
    flow = rps * spec["record_bytes"] / _MIB
    return {"Rps": str(round(rps)), "Flow": f"{flow:.2f}"}


def _retry_state(spec: Mapping[str, Any], t: float, dts_job_id: str) -> dict[str, Any]:
    retry = spec.get("retry") if spec["state"] == "retrying" else None
    if retry is None:
        return {
            "Retrying": False,
            "RetryCount": 0,
            "RetryTime": 0,
            "MaxRetryTime": _DATA["max_retry_time"],
            "RetryTarget": "",
            "Module": "",
            "ErrMessage": "",
            "JobId": dts_job_id,
        }
    return {
        "Retrying": True,
        "RetryCount": retry["count"] + int(t // retry["interval"]),
        "RetryTime": int(retry["started"] + t),
        "MaxRetryTime": _DATA["max_retry_time"],
        "RetryTarget": retry["target"],
        "Module": retry["module"],
        "ErrMessage": retry["message"],
        "JobId": dts_job_id,
    }


def _full_check_status(spec: Mapping[str, Any]) -> dict[str, str]:
    check = spec.get("full_check")
    if check is None:
        return dict(_NOT_STARTED)
    return {
        "Status": "Finished",
        "Percent": "100",
        "Progress": str(check["rows"]),
        "ErrorMessage": "",
    }


def demo_health(job_id: str, dts_job_id: str, now: float, t: float) -> dict[str, Any] | None:
    """The health fields of a demo job's DescribeDtsJobs entry, or None if not a demo job."""
    spec = _JOBS.get(job_id)
    if spec is None:
        return None
    t = max(t, 0.0)
    status, delay = status_and_delay(spec, t)
    delay_seconds = delay / 1000.0 if spec["state"] == "migrating" else float(delay)
    checkpoint = int(now - delay_seconds)
    if spec["state"] == "suspended":
        # Frozen: now - int(delay) would carry t's fraction of a second and flicker by a
        # second whenever that fraction and the start's add up past one; now - t does not.
        checkpoint = int(now - t) - int(spec["initial_delay"])
    retry = spec.get("retry") if spec["state"] == "retrying" else None
    usage = spec["usage"]
    fields: dict[str, Any] = {
        "Status": status,
        "Delay": delay,
        "Checkpoint": str(checkpoint),
        "Performance": _performance(spec, t),
        "RetryState": _retry_state(spec, t, dts_job_id),
        "ErrorMessage": "" if retry is None else retry["message"],
        "ErrorDetails": []
        if retry is None
        else [{"ErrorCode": retry["error_code"], "HelpUrl": retry["help_url"]}],
        "FullDataCheckStatus": _full_check_status(spec),
        "IncDataCheckStatus": dict(_NOT_STARTED),
        "StructureDataCheckStatus": dict(_NOT_STARTED),
        "CpuUsage": str(round(usage["cpu"] + 4 * math.sin(2 * math.pi * t / 300.0))),
        "MemUsage": str(usage["mem"]),
        "DuUsage": usage["du"],
        "MaxDu": usage["max_du"],
        "MinDu": usage["min_du"],
        "TagList": [{"TagKey": key, "TagValue": value} for key, value in spec["tags"].items()],
        "MigrationMode": {
            "StructureInitialization": True,
            "DataInitialization": True,
            "DataSynchronization": True,
            "FullDataCheck": "full_check" in spec,
            "IncDataCheck": False,
            "StructureDataCheck": False,
        },
    }
    if "pay_type" in spec:
        fields["PayType"] = spec["pay_type"]
    if spec.get("pay_type") == "PrePaid":
        fields["ExpireTime"] = utc_text(now - t + spec["expire_days"] * _DAY)
    return fields


def demo_check_entries(job_id: str, now: float, t: float) -> list[dict[str, Any]]:
    """The DescribeCheckJobs entries of a demo job, without its identity fields."""
    check = _JOBS.get(job_id, {}).get("full_check")
    if check is None:
        return []
    return [
        {
            "JobName": check["name"],
            "CheckType": 1,
            "Status": 1 if check["diff"] > 0 else 0,
            "DiffCount": check["diff"],
            "DiffSum": check["diff"],
            "FinishCount": check["rows"],
            "TotalCount": check["rows"],
            "CheckPoint": int(now - max(t, 0.0) - check["finished_before"]),
        }
    ]
