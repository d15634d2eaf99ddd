"""Scenario files: recorded answers to replay and faults to inject.

```yaml
jobs:  {"<SynchronizationJobId>": <DescribeInitializationStatus body, unpaged>}
tasks: {"<TaskId>": <DescribeSynchronizationObjectModifyStatus body>}
dts_jobs: {"<region>": [<DescribeDtsJobs DtsJobList entry, with JobType>, ...]}
dts_job_details: {"<DtsInstanceID or DtsJobId>": <DescribeDtsJobDetail body>}
check_jobs: {"<DtsInstanceID>": [<DescribeCheckJobs CheckJobs entry, with CheckType>, ...]}
faults: {"<key>": [{kind: throttling, pages: [2]}, {kind: latency, seconds: 0.2}]}
flow_control: {requests_per_second: 20, burst: 20}   # optional; see `flow`
```
`dts_job_details` is optional: without an entry for a job, DescribeDtsJobDetail derives
the detail from the job's `dts_jobs` entry (any region, see `job_state`). A job without
`check_jobs` has no data verification (DescribeCheckJobs answers an empty list).

Fault keys:
- a job id: DescribeInitializationStatus for that SynchronizationJobId only (a job id
  does not reach the job's DescribeDtsJobDetail or DescribeCheckJobs calls, so a scenario
  written for one action keeps its meaning); a task id:
  DescribeSynchronizationObjectModifyStatus for that task;
- `<action>:<id>`: that action for that id only, e.g. `DescribeDtsJobDetail:dtsi01...`
  (DtsInstanceID or DtsJobId, whichever the call names) or `DescribeCheckJobs:dtsi03...`
  (InstanceId);
- an action (`DescribeDtsJobs`, `DescribeDtsJobDetail`, `DescribeCheckJobs`,
  `DescribeInitializationStatus`, `DescribeSynchronizationObjectModifyStatus`): every call
  of that action;
- `*`: any DTS call; `AssumeRole` or `AssumeRoleWithOIDC`: that STS action only (`*`
  leaves STS alone).
A call gathers the faults of `<action>:<id>`, the bare id, the action and `*`, in that
order (latencies add up; the first other applicable fault answers).
JSON or YAML (PyYAML reads both). Every problem is a ConfigError naming the key path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dts_exporter.base.documents import read_document
from dts_exporter.base.errors import ConfigError
from dts_exporter.simulator.flow import FlowSettings, parse_flow_control
from dts_exporter.simulator.scenario_values import (
    check_json_value,
    check_list_of_mappings,
    check_mapping_fields,
    type_name,
)

FAULT_KINDS = (
    "throttling",
    "internal_error",
    "service_unavailable",
    "latency",
    "malformed",
    "truncated",
    "html",
    "success_false",
    "reset",
)
# What a hostile or broken endpoint answers (simulator/hostile.py); the soak and the
# hostile-answer tests use them, the fault matrix does not.
HOSTILE_FAULT_KINDS = (
    "redirect",
    "drip",
    "oversize_page",
    "repeat_page",
    "deep_json",
    "gzip_bomb",
    "huge_body",
)
JOB_LIST_FIELDS = (
    "StructureInitializationDetails",
    "DataInitializationDetails",
    "DataSynchronizationDetails",
)
TASK_STRUCT_FIELDS = (
    "PrecheckStatus",
    "StructureInitializationStatus",
    "DataInitializationStatus",
    "DataSynchronizationStatus",
)
DTS_JOB_STRUCT_FIELDS = (
    "SourceEndpoint",
    "DestinationEndpoint",
    "StructureInitializationStatus",
    "DataInitializationStatus",
    "DataSynchronizationStatus",
    "Performance",
    "RetryState",
    "FullDataCheckStatus",
    "IncDataCheckStatus",
    "StructureDataCheckStatus",
)
DTS_JOB_LIST_FIELDS = ("ErrorDetails", "TagList")
DETAIL_STRUCT_FIELDS = (
    "SourceEndpoint",
    "DestinationEndpoint",
    "RetryState",
    "MigrationMode",
    "DataSynchronizationStatus",
)
DTS_JOB_TYPES = ("MIGRATION", "SYNC", "SUBSCRIBE")
CHECK_TYPES = (1, 2)
TOP_LEVEL_KEYS = (
    "jobs",
    "tasks",
    "dts_jobs",
    "dts_job_details",
    "check_jobs",
    "faults",
    "flow_control",
)
_FAULT_KEYS = {"kind", "seconds", "pages", "retry_after_ms"}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour.

    `seconds` is the delay of a `latency` fault; `pages`, when set, limits the fault to
    DescribeInitializationStatus requests with one of these PageNum values, or
    DescribeDtsJobs and DescribeCheckJobs requests with one of these PageNumber values
    (requests without one count as page 1; modify-status, DescribeDtsJobDetail and STS
    requests have no page and never match); `retry_after_ms` adds `x-acs-retry-after` to
    a `throttling` answer.
    """

    kind: str
    seconds: float = 0.0
    pages: frozenset[int] | None = None
    retry_after_ms: int | None = None

    def applies_to(self, page: int | None) -> bool:
        return self.pages is None or (page is not None and page in self.pages)


@dataclass(frozen=True)
class Scenario:
    jobs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dts_jobs: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    faults: Mapping[str, tuple[Fault, ...]] = field(default_factory=dict)
    dts_job_details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    check_jobs: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    flow_control: FlowSettings | None = None


def _check_job(body: Mapping[str, Any], path: str, source: str) -> None:
    for name in JOB_LIST_FIELDS:
        value = body.get(name)
        check_list_of_mappings(value, f"{path}.{name}", source)
        if name == "StructureInitializationDetails" and value:
            for index, item in enumerate(value):
                check_list_of_mappings(
                    item.get("Constraints"), f"{path}.{name}[{index}].Constraints", source
                )


def _check_task(body: dict[str, Any], path: str, source: str) -> None:
    check_mapping_fields(body, TASK_STRUCT_FIELDS, path, source)
    precheck = body.get("PrecheckStatus")
    if isinstance(precheck, dict):
        check_list_of_mappings(precheck.get("Detail"), f"{path}.PrecheckStatus.Detail", source)


def _check_detail(body: dict[str, Any], path: str, source: str) -> None:
    check_mapping_fields(body, DETAIL_STRUCT_FIELDS, path, source)
    check_list_of_mappings(body.get("SubSyncJob"), f"{path}.SubSyncJob", source)


_Check = Callable[[dict[str, Any], str, str], None]


def _bodies(value: object, section: str, source: str, check: _Check) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: {section}: expected a mapping of id to body, got {type_name(value)}"
        )
    bodies: dict[str, dict[str, Any]] = {}
    for raw_id, body in value.items():
        path = f"{section}.{raw_id}"
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: {path}: expected a mapping, got {type_name(body)}")
        check_json_value(body, path, source)
        check(body, path, source)
        bodies[str(raw_id)] = body
    return bodies


def _entry(entry: object, path: str, source: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: {path}: expected a mapping, got {type_name(entry)}")
    check_json_value(entry, path, source)
    return entry


def _dts_job(raw: object, path: str, source: str) -> dict[str, Any]:
    entry = _entry(raw, path, source)
    job_type = entry.get("JobType")
    if job_type is None:
        raise ConfigError(f"{source}: {path}.JobType: missing (one of {', '.join(DTS_JOB_TYPES)})")
    if not isinstance(job_type, str) or job_type.strip().upper() not in DTS_JOB_TYPES:
        raise ConfigError(
            f"{source}: {path}.JobType: expected one of {', '.join(DTS_JOB_TYPES)}, "
            f"got {job_type!r}"
        )
    check_mapping_fields(entry, DTS_JOB_STRUCT_FIELDS, path, source)
    for name in DTS_JOB_LIST_FIELDS:
        check_list_of_mappings(entry.get(name), f"{path}.{name}", source)
    return entry


def check_type_of(entry: Mapping[str, Any]) -> int | None:
    """A CheckJobs entry's CheckType (1 or 2; a number or its string), else None."""
    value = entry.get("CheckType")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return int(text) if text in ("1", "2") else None


def _check_job_entry(raw: object, path: str, source: str) -> dict[str, Any]:
    entry = _entry(raw, path, source)
    if "CheckType" not in entry:
        raise ConfigError(f"{source}: {path}.CheckType: missing (1 full or 2 incremental)")
    if check_type_of(entry) is None:
        raise ConfigError(
            f"{source}: {path}.CheckType: expected 1 (full) or 2 (incremental), "
            f"got {entry['CheckType']!r}"
        )
    return entry


_Entry = Callable[[object, str, str], dict[str, Any]]


def _lists(
    value: object, section: str, key: str, what: str, parse: _Entry, source: str
) -> dict[str, tuple[dict[str, Any], ...]]:
    """A section mapping `key` (region, job id) to a list of entries."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: {section}: expected a mapping of {key} to {what}, got {type_name(value)}"
        )
    lists: dict[str, tuple[dict[str, Any], ...]] = {}
    for raw_key, entries in value.items():
        path = f"{section}.{raw_key}"
        listed = [] if entries is None else entries
        if not isinstance(listed, list):
            raise ConfigError(
                f"{source}: {path}: expected a list of {what}, got {type_name(listed)}"
            )
        lists[str(raw_key)] = tuple(
            parse(entry, f"{path}[{index}]", source) for index, entry in enumerate(listed)
        )
    return lists


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _parse_fault(spec: object, path: str, source: str) -> Fault:
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: {path}: expected a mapping, got {type_name(spec)}")
    unknown = sorted(str(key) for key in spec if key not in _FAULT_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {path}.{unknown[0]}: unknown key "
            f"(expected one of: {', '.join(sorted(_FAULT_KEYS))})"
        )
    kind = spec.get("kind")
    if kind is None:
        raise ConfigError(f"{source}: {path}.kind: missing")
    if kind not in FAULT_KINDS + HOSTILE_FAULT_KINDS:
        raise ConfigError(
            f"{source}: {path}.kind: unknown fault kind {kind!r} "
            f"(expected one of: {', '.join(FAULT_KINDS + HOSTILE_FAULT_KINDS)})"
        )
    seconds = 0.0
    if kind == "latency":
        if "seconds" not in spec:
            raise ConfigError(f"{source}: {path}.seconds: missing (required for latency)")
        number = _number(spec["seconds"])
        if number is None or not math.isfinite(number) or number <= 0:
            raise ConfigError(
                f"{source}: {path}.seconds: expected a number > 0, got {spec['seconds']!r}"
            )
        seconds = number
    elif "seconds" in spec:
        raise ConfigError(f"{source}: {path}.seconds: only valid for kind latency")
    retry_after: int | None = None
    if "retry_after_ms" in spec:
        value = spec["retry_after_ms"]
        if kind != "throttling":
            raise ConfigError(f"{source}: {path}.retry_after_ms: only valid for kind throttling")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"{source}: {path}.retry_after_ms: expected an integer > 0, got {value!r}"
            )
        retry_after = value
    return Fault(
        kind=kind,
        seconds=seconds,
        pages=_parse_pages(spec.get("pages"), "pages" in spec, f"{path}.pages", source),
        retry_after_ms=retry_after,
    )


def _parse_pages(value: object, present: bool, path: str, source: str) -> frozenset[int] | None:
    if not present:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{source}: {path}: expected a non-empty list of page numbers, got {value!r}"
        )
    for page in value:
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ConfigError(f"{source}: {path}: page numbers are integers >= 1, got {page!r}")
    return frozenset(value)


def parse_faults(
    value: object, source: str, section: str = "faults"
) -> dict[str, tuple[Fault, ...]]:
    """Validate a `faults` mapping: id (or "*") to a fault or a list of faults."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: {section}: expected a mapping of id to faults, got {type_name(value)}"
        )
    faults: dict[str, tuple[Fault, ...]] = {}
    for raw_id, specs in value.items():
        path = f"{section}.{raw_id}"
        if isinstance(specs, dict):
            faults[str(raw_id)] = (_parse_fault(specs, path, source),)
        elif isinstance(specs, list):
            faults[str(raw_id)] = tuple(
                _parse_fault(spec, f"{path}[{index}]", source) for index, spec in enumerate(specs)
            )
        else:
            raise ConfigError(
                f"{source}: {path}: expected a fault mapping or a list of them, "
                f"got {type_name(specs)}"
            )
    return faults


def parse_scenario(data: object, source: str) -> Scenario:
    """Build a Scenario from already-decoded data; `source` prefixes error messages."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, "
            f"got {type_name(data)}"
        )
    unknown = sorted(str(key) for key in data if key not in TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {unknown[0]}: unknown key (expected one of: {', '.join(TOP_LEVEL_KEYS)})"
        )
    return Scenario(
        jobs=_bodies(data.get("jobs"), "jobs", source, _check_job),
        tasks=_bodies(data.get("tasks"), "tasks", source, _check_task),
        dts_jobs=_lists(
            data.get("dts_jobs"), "dts_jobs", "region", "DtsJobList entries", _dts_job, source
        ),
        faults=parse_faults(data.get("faults"), source),
        dts_job_details=_bodies(
            data.get("dts_job_details"), "dts_job_details", source, _check_detail
        ),
        check_jobs=_lists(
            data.get("check_jobs"),
            "check_jobs",
            "DtsInstanceID",
            "CheckJobs entries",
            _check_job_entry,
            source,
        ),
        flow_control=parse_flow_control(data.get("flow_control"), source),
    )


def load_scenario(path: str) -> Scenario:
    """Read and validate a scenario file (JSON or YAML)."""
    return parse_scenario(read_document(path, "scenario file"), path)
