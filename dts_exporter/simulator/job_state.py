"""DTS `DescribeDtsJobDetail` (version 2020-01-01): the state of one job.

Parameters (the SDK's `DescribeDtsJobDetailRequest`): `DtsJobId` or `DtsInstanceID` (one
is required, else 400 `MissingParameter`; with both, the job must have both ids),
`SyncSubJobHistory` (`true` or `false`, else 400 `InvalidParameter`; a job has one
subtask here, returned either way), `RegionId` (the job is found in any region). Other
parameters are ignored. An unknown job is a business error (HTTP 200, `Success: false`,
`ErrCode: InvalidJobId`), as DescribeInitializationStatus answers an unknown job.

The body (top-level fields, not wrapped in a list) is a scenario's `dts_job_details` entry
for the DtsInstanceID (else the DtsJobId) as recorded, or else derived from the job's
DescribeDtsJobs entry (scenario `dts_jobs` in any region, or the demo's), following the
SDK's `DescribeDtsJobDetailResponseBody`:
- the identity, endpoints, Status, RetryState, ErrorMessage, PayType, ExpireTime,
  MigrationMode, DataSynchronizationStatus, MaxDu, MinDu... copied, RetryState and
  MigrationMode cut to the detail model's fields (`SubSyncJob[].RetryState` spells the
  message `ErrMsg`);
- `Delay` in MILLISECONDS (a synchronization entry's seconds x 1000; a migration entry's
  milliseconds as they are) and `Checkpoint` as an integer (the model's types here);
- for a `SYNC` job, `SubSyncJob: [one subtask]` carrying `Performance` (the detail has no
  top-level Performance), the stage statuses and TagList, its `Checkpoint` a string and
  its `Delay` in milliseconds. The model has no data verification statuses: none are sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.calls import bool_param, missing_parameter

_TOP_LEVEL = (
    "DtsJobId",
    "DtsInstanceID",
    "DtsJobName",
    "DtsJobClass",
    "DtsJobDirection",
    "JobType",
    "Status",
    "ErrorMessage",
    "CreateTime",
    "FinishTime",
    "PayType",
    "ExpireTime",
    "SourceEndpoint",
    "DestinationEndpoint",
    "RetryState",
    "MigrationMode",
    "DataSynchronizationStatus",
    "MaxDu",
    "MinDu",
    "DbObject",
    "Reserved",
    "ResourceGroupId",
    "ResourceGroupDisplayName",
    "DedicatedClusterId",
    "DtsBisLabel",
)
_SUB_SYNC_JOB = (
    "DtsJobId",
    "DtsInstanceID",
    "DtsJobName",
    "DtsJobClass",
    "JobType",
    "Status",
    "ErrorMessage",
    "CreateTime",
    "PayType",
    "ExpireTime",
    "SourceEndpoint",
    "DestinationEndpoint",
    "Performance",
    "RetryState",
    "MigrationMode",
    "PrecheckStatus",
    "StructureInitializationStatus",
    "DataInitializationStatus",
    "DataSynchronizationStatus",
    "TagList",
    "MaxDu",
    "MinDu",
)


# The detail's own shapes of two structures the DescribeDtsJobs entry has richer.
_MIGRATION_MODE = (
    "DataExtractTransformLoad",
    "DataInitialization",
    "DataSynchronization",
    "StructureInitialization",
)
_RETRY_STATE = (
    "Retrying",
    "RetryCount",
    "RetryTime",
    "MaxRetryTime",
    "RetryTarget",
    "Module",
    "ErrMessage",
    "JobId",
)


@dataclass(frozen=True)
class DetailQuery:
    instance_id: str
    job_id: str
    history: bool

    def ids(self) -> tuple[str, ...]:
        """The ids the call names (for faults), DtsInstanceID first."""
        return tuple(dict.fromkeys(item for item in (self.instance_id, self.job_id) if item))


def parse_detail_query(params: Mapping[str, str]) -> DetailQuery:
    """Validate the parameters of a DescribeDtsJobDetail call (raises ApiError)."""
    instance_id = params.get("DtsInstanceID", "").strip()
    job_id = params.get("DtsJobId", "").strip()
    if not instance_id and not job_id:
        raise missing_parameter("DtsJobId")
    return DetailQuery(instance_id, job_id, bool_param(params, "SyncSubJobHistory"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _delay_ms(entry: Mapping[str, Any]) -> Any:
    """Delay in milliseconds: DescribeDtsJobs gives seconds except for migration jobs."""
    value = entry.get("Delay")
    number = _number(value)
    if number is None:
        return value
    if str(entry.get("JobType", "")).strip().upper() == "MIGRATION":
        return int(number)
    return int(number * 1000)


def _project(value: Any, names: tuple[str, ...], renamed: Mapping[str, str]) -> Any:
    """A structure cut to the detail model's fields (`renamed`: entry name to detail's)."""
    if not isinstance(value, Mapping):
        return value
    return {renamed.get(key, key): value[key] for key in names if key in value}


def _fields(entry: Mapping[str, Any], names: tuple[str, ...], *, sub: bool) -> dict[str, Any]:
    """The entry's fields among `names`, MigrationMode and RetryState cut to the detail's
    models (whose SubSyncJob[].RetryState spells ErrMessage `ErrMsg`)."""
    fields: dict[str, Any] = {key: entry[key] for key in names if key in entry}
    if "MigrationMode" in fields:
        fields["MigrationMode"] = _project(fields["MigrationMode"], _MIGRATION_MODE, {})
    if "RetryState" in fields:
        renamed = {"ErrMessage": "ErrMsg"} if sub else {}
        fields["RetryState"] = _project(fields["RetryState"], _RETRY_STATE, renamed)
    return fields


def detail_from_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeDtsJobDetail body (without RequestId) from a DescribeDtsJobs entry."""
    body = _fields(entry, _TOP_LEVEL, sub=False)
    if "Delay" in entry:
        body["Delay"] = _delay_ms(entry)
    checkpoint = _number(entry.get("Checkpoint"))
    if checkpoint is not None:
        body["Checkpoint"] = int(checkpoint)
    elif "Checkpoint" in entry:
        body["Checkpoint"] = entry["Checkpoint"]
    if str(entry.get("JobType", "")).strip().upper() == "SYNC":
        sub = _fields(entry, _SUB_SYNC_JOB, sub=True)
        if "Delay" in entry:
            sub["Delay"] = body["Delay"]
        if "Checkpoint" in entry:
            sub["Checkpoint"] = str(body["Checkpoint"])
        body["SubSyncJob"] = [sub]
    body["HttpStatusCode"] = 200
    body["Success"] = True
    return body


def find_detail(
    details: Mapping[str, Mapping[str, Any]],
    entries: Iterable[Mapping[str, Any]],
    instance_id: str,
    job_id: str,
) -> Mapping[str, Any] | None:
    """The recorded detail (by DtsInstanceID, else DtsJobId), else one derived from the
    first entry with the ids asked for, else None."""
    for key in (instance_id, job_id):
        if key and key in details:
            return details[key]
    for entry in entries:
        if instance_id and entry.get("DtsInstanceID") != instance_id:
            continue
        if job_id and entry.get("DtsJobId") != job_id:
            continue
        return detail_from_entry(entry)
    return None
