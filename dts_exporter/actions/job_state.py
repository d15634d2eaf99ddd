"""A synchronization job's own state, as DescribeDtsJobs lists it or DescribeDtsJobDetail
tells it: status, delay, checkpoint, throughput, retries, errors, verification, resources.

Both actions answer with the same fields (the detail's Delay in milliseconds, its
throughput under SubSyncJob), so one record, one set of metrics and one function to build
their families serve both; `dts_jobs` and `dts_job_detail` read their answers into it.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.base.errors import describe_kind
from dts_exporter.base.families import Builder, Metric, Options
from dts_exporter.base.fields import Fields, clean_text, entries, error_code, struct, unwrap
from dts_exporter.base.records import Target

# Documented statuses of a synchronization job; others are kept as they come.
SYNC_STATUSES = (
    "NotStarted",
    "Prechecking",
    "PrecheckFailed",
    "PreCheckPass",
    "NotConfigured",
    "Initializing",
    "InitializeFailed",
    "Synchronizing",
    "Failed",
    "Suspending",
    "Modifying",
    "ModifyFailed",
    "Finished",
    "Retrying",
    "Upgrade",
    "Locked",
    "Downgrade",
)
# Data verification kinds: label value and the field of the answer.
VERIFICATIONS = (
    ("full", "FullDataCheckStatus"),
    ("incremental", "IncDataCheckStatus"),
    ("structure", "StructureDataCheckStatus"),
)
VERIFICATION_STATUSES = ("NotStarted", "Checking", "Failed", "Finished")
RETRY_TARGETS = ("srcDB", "destDB", "inner_module")
MIB = 1_048_576  # the API's MB (Performance.Flow, MemUsage), taken as 2^20 bytes
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class Retry:
    retrying: bool | None
    count: float | None
    seconds: float | None
    max_seconds: float | None
    target: str  # srcDB, destDB, inner_module, Other, or "" when absent
    module: str  # a short token, Other, or ""
    message: str  # for the log only


@dataclass(frozen=True)
class Verification:
    kind: str  # full, incremental, structure
    status: str | None
    percent: float | None


@dataclass(frozen=True)
class JobState:
    job_id: str  # DtsInstanceID: what DescribeInitializationStatus takes
    dts_job_id: str
    name: str
    region: str
    job_type: str
    job_class: str
    source_engine: str
    source_region: str
    destination_engine: str
    destination_region: str
    tags: tuple[tuple[str, str], ...]
    status: str | None
    delay_seconds: float | None
    checkpoint: float | None
    records_per_second: float | None
    bytes_per_second: float | None
    retry: Retry | None
    error_codes: tuple[str, ...]  # bounded: DTS-nnnnnn or Other
    error_message: str  # for the log only
    verifications: tuple[Verification, ...]
    cpu_ratio: float | None
    memory_bytes: float | None
    du_usage: float | None
    du_max: float | None
    expire_timestamp: float | None
    problems: tuple[str, ...] = ()


def parse_entry(entry: Mapping[str, Any], where: str, region: str, *, detail: bool) -> JobState:
    """One job: a DescribeDtsJobs entry, or (`detail`) a DescribeDtsJobDetail answer, whose
    Delay is in milliseconds, whose throughput is per SubSyncJob, and which has no resource
    use, error details, verification or tags: those stay None or empty for it."""
    problems: list[str] = []
    f = Fields(entry, where, problems)
    listed = not detail  # the fields only a DescribeDtsJobs entry has
    job_id = f.text("DtsInstanceID") or f.text("DtsJobId")
    delay = f.number("Delay")
    source = _endpoint(entry, "SourceEndpoint", where, problems)
    destination = _endpoint(entry, "DestinationEndpoint", where, problems)
    rps, flow = _performance(entry, where, problems, detail=detail)
    return JobState(
        job_id=job_id,
        dts_job_id=f.text("DtsJobId"),
        name=f.text("DtsJobName"),
        region=region,
        job_type=f.text("JobType"),
        job_class=f.text("DtsJobClass"),
        source_engine=source[0],
        source_region=source[1],
        destination_engine=destination[0],
        destination_region=destination[1],
        tags=() if detail else _tags(entry.get("TagList"), where, problems),
        status=f.status("Status") if f.text("Status") else None,
        delay_seconds=None if delay is None else delay / 1000 if detail else delay,
        checkpoint=f.number("Checkpoint"),
        records_per_second=rps,
        bytes_per_second=None if flow is None else flow * MIB,
        retry=_retry(struct(entry, "RetryState", problems, where), f"{where}.RetryState", problems),
        error_codes=() if detail else _error_codes(entry.get("ErrorDetails"), where, problems),
        error_message=f.text("ErrorMessage"),
        verifications=() if detail else _verifications(entry, where, problems),
        cpu_ratio=_percent(f.number("CpuUsage")) if listed else None,
        memory_bytes=_scaled(f.number("MemUsage"), MIB) if listed else None,
        du_usage=f.number("DuUsage") if listed else None,
        du_max=f.number("MaxDu"),
        expire_timestamp=_timestamp(f, "ExpireTime"),
        problems=tuple(problems),
    )


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _percent(value: float | None) -> float | None:
    return None if value is None else value / 100


def _endpoint(
    entry: Mapping[str, Any], key: str, where: str, problems: list[str]
) -> tuple[str, str]:
    raw = struct(entry, key, problems, where)
    if raw is None:
        return "", ""
    f = Fields(raw, f"{where}.{key}", problems)
    return f.text("EngineName"), f.text("Region")


def _performance(
    entry: Mapping[str, Any], where: str, problems: list[str], *, detail: bool
) -> tuple[float | None, float | None]:
    """Performance{Rps, Flow}; the detail has them per SubSyncJob, summed here."""
    parts: list[Mapping[str, Any] | None] = []
    if not detail:
        parts.append(struct(entry, "Performance", problems, where))
    subjobs = unwrap(entry.get("SubSyncJob")) if detail else None
    if isinstance(subjobs, list):
        for i, sub in entries(subjobs, f"{where}.SubSyncJob", problems):
            parts.append(struct(sub, "Performance", problems, f"{where}.SubSyncJob[{i}]"))
    elif subjobs not in (None, ""):
        problems.append(f"{where}.SubSyncJob: {describe_kind(subjobs)} is not a list")
    rps: float | None = None
    flow: float | None = None
    for part in parts:
        if part is None:
            continue
        f = Fields(part, f"{where}.Performance", problems)
        value, volume = f.number("Rps"), f.number("Flow")
        if value is not None:
            rps = (rps or 0.0) + value
        if volume is not None:
            flow = (flow or 0.0) + volume
    return rps, flow


def _retry(raw: Mapping[str, Any] | None, where: str, problems: list[str]) -> Retry | None:
    if raw is None:
        return None
    f = Fields(raw, where, problems)
    target = f.text("RetryTarget")
    module = f.text("Module")
    return Retry(
        retrying=f.flag("Retrying"),
        count=f.number("RetryCount"),
        seconds=f.number("RetryTime"),
        max_seconds=f.number("MaxRetryTime"),
        target=target if target in RETRY_TARGETS or not target else "Other",
        module=module if _TOKEN_RE.match(module) or not module else "Other",
        message=f.text("ErrMessage"),
    )


def _error_codes(value: object, where: str, problems: list[str]) -> tuple[str, ...]:
    details = unwrap(value)
    if details in (None, ""):
        return ()
    if not isinstance(details, list):
        problems.append(f"{where}.ErrorDetails: not a list")
        return ()
    codes = []
    for i, item in entries(details, f"{where}.ErrorDetails", problems):
        code = Fields(item, f"{where}.ErrorDetails[{i}]", problems).text("ErrorCode")
        if code:
            codes.append(error_code(code))
    return tuple(dict.fromkeys(codes))


def _verifications(
    entry: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[Verification, ...]:
    found = []
    for kind, key in VERIFICATIONS:
        raw = struct(entry, key, problems, where)
        if raw is None:
            continue
        f = Fields(raw, f"{where}.{key}", problems)
        status = f.status("Status") if f.text("Status") else None
        found.append(Verification(kind, status, f.number("Percent")))
    return tuple(found)


def _tags(value: object, where: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    items = unwrap(value)
    if not isinstance(items, list):
        return ()
    tags = []
    for i, item in entries(items, f"{where}.TagList", problems):
        f = Fields(item, f"{where}.TagList[{i}]", problems)
        if f.text("TagKey"):
            tags.append((f.text("TagKey"), f.text("TagValue")))
    return tuple(tags)


def _timestamp(f: Fields, key: str) -> float | None:
    """`yyyy-MM-ddTHH:mm:ssZ` (UTC), with or without milliseconds, as Unix seconds."""
    text = f.text(key)
    if not text:
        return None
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return float(calendar.timegm(time.strptime(text, layout)))
        except ValueError:
            continue
    f.problems.append(f"{f.where}.{key}: {clean_text(text)[:40]!r} is not a UTC time")
    return None


# -- metrics ------------------------------------------------------------------------------

JOB = ("job_id",)

STATUS = Metric(
    "dts_job_status",
    "1 for the job's current Status, 0 for every other documented synchronization status.",
    (*JOB, "status"),
)
DELAY = Metric(
    "dts_job_delay_seconds",
    "Synchronization delay of the job (DescribeDtsJobs Delay, or DescribeDtsJobDetail's).",
    JOB,
)
CHECKPOINT = Metric(
    "dts_job_checkpoint_timestamp_seconds",
    "The point in time the job has synchronized up to (Checkpoint).",
    JOB,
)
RECORDS = Metric(
    "dts_job_records_per_second",
    "Statements (rows, DDL, BEGIN/COMMIT) the job synchronizes per second (Performance.Rps).",
    JOB,
)
BYTES = Metric(
    "dts_job_bytes_per_second",
    "Data the job synchronizes per second (Performance.Flow, MB/s taken as MiB/s).",
    JOB,
)
RETRYING = Metric(
    "dts_job_retrying", "1 while DTS retries the job after an error (RetryState.Retrying).", JOB
)
RETRY_COUNT = Metric("dts_job_retry_count", "Retries so far (RetryState.RetryCount).", JOB)
RETRY_SECONDS = Metric(
    "dts_job_retry_duration_seconds", "Time spent retrying (RetryState.RetryTime).", JOB
)
RETRY_MAX_SECONDS = Metric(
    "dts_job_retry_max_duration_seconds",
    "How long DTS retries before giving up (RetryState.MaxRetryTime).",
    JOB,
)
RETRY_TARGET = Metric(
    "dts_job_retry_target",
    "1 while retrying, for what is retried: target srcDB, destDB, inner_module or Other; "
    "module as DTS reports it (Other when not a short token).",
    (*JOB, "target", "module"),
)
ERROR = Metric(
    "dts_job_error",
    "1 for each error code the job reports (ErrorDetails: DTS-nnnnnn, or Other).",
    (*JOB, "code"),
)
VERIFICATION_STATUS = Metric(
    "dts_job_verification_status",
    "1 for the current status of a data verification kind (full, incremental, structure), "
    "0 for the other documented statuses.",
    (*JOB, "kind", "status"),
)
VERIFICATION_PROGRESS = Metric(
    "dts_job_verification_progress_ratio",
    "Progress of a data verification kind, 0 to 1 (Percent / 100).",
    (*JOB, "kind"),
)
CPU = Metric("dts_job_cpu_usage_ratio", "CPU utilization of the instance (CpuUsage / 100).", JOB)
MEMORY = Metric(
    "dts_job_memory_usage_bytes", "Memory the instance uses (MemUsage, MB taken as MiB).", JOB
)
DU_USAGE = Metric("dts_job_du_usage", "DUs the job uses on a dedicated cluster (DuUsage).", JOB)
DU_MAX = Metric("dts_job_du_max", "Most DUs a serverless instance may use (MaxDu).", JOB)
EXPIRE = Metric(
    "dts_job_expire_timestamp_seconds",
    "When a subscription (PrePaid) instance expires (ExpireTime).",
    JOB,
)

METRICS = (
    STATUS,
    DELAY,
    CHECKPOINT,
    RECORDS,
    BYTES,
    RETRYING,
    RETRY_COUNT,
    RETRY_SECONDS,
    RETRY_MAX_SECONDS,
    RETRY_TARGET,
    ERROR,
    VERIFICATION_STATUS,
    VERIFICATION_PROGRESS,
    CPU,
    MEMORY,
    DU_USAGE,
    DU_MAX,
    EXPIRE,
)


def families(b: Builder, target: Target, state: JobState, options: Options) -> None:
    ids = (target.job_id,)
    if state.status is not None:
        b.state_set(STATUS, ids, state.status, SYNC_STATUSES)
    b.add(DELAY, ids, state.delay_seconds)
    b.add(CHECKPOINT, ids, state.checkpoint)
    b.add(RECORDS, ids, state.records_per_second)
    b.add(BYTES, ids, state.bytes_per_second)
    retry = state.retry
    if retry is not None:
        b.add(RETRYING, ids, None if retry.retrying is None else float(retry.retrying))
        b.add(RETRY_COUNT, ids, retry.count)
        b.add(RETRY_SECONDS, ids, retry.seconds)
        b.add(RETRY_MAX_SECONDS, ids, retry.max_seconds)
        if retry.retrying:
            b.add(RETRY_TARGET, (*ids, retry.target or "Other", retry.module), 1.0)
    for code in state.error_codes:
        b.add(ERROR, (*ids, code), 1.0)
    for check in state.verifications:
        if check.status is not None:
            b.state_set(
                VERIFICATION_STATUS, (*ids, check.kind), check.status, VERIFICATION_STATUSES
            )
        b.add(VERIFICATION_PROGRESS, (*ids, check.kind), _percent(check.percent))
    b.add(CPU, ids, state.cpu_ratio)
    b.add(MEMORY, ids, state.memory_bytes)
    b.add(DU_USAGE, ids, state.du_usage)
    b.add(DU_MAX, ids, state.du_max)
    b.add(EXPIRE, ids, state.expire_timestamp)


def summary(state: JobState) -> str:
    delay = "unknown" if state.delay_seconds is None else f"{state.delay_seconds:g}s"
    return f"status {state.status or 'absent'}, delay {delay}"


def notes(state: JobState) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The job's own error and retry messages: logged when they change, never labels."""
    messages = [state.error_message] if state.error_message else []
    if state.retry is not None and state.retry.message:
        messages.append(state.retry.message)
    return (("job reports an error", tuple(messages)),)
