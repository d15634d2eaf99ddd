"""Scenario files: recorded answers to replay and faults to inject.

```yaml
jobs:  {"<SynchronizationJobId>": <DescribeInitializationStatus body, unpaged>}
tasks: {"<TaskId>": <DescribeSynchronizationObjectModifyStatus body>}
dts_jobs: {"<region>": [<DescribeDtsJobs DtsJobList entry, with JobType>, ...]}
faults: {"<id or *>": [{kind: throttling, pages: [2]}, {kind: latency, seconds: 0.2}]}
```
Fault ids are job ids, task ids, `*` (any DTS call), `DescribeDtsJobs` (discovery only),
`AssumeRole` or `AssumeRoleWithOIDC` (that STS action only; `*` leaves STS alone).
JSON or YAML (PyYAML reads both). Every problem is a ConfigError naming the key path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dts_exporter.base.documents import read_document
from dts_exporter.base.errors import ConfigError

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
)
DTS_JOB_TYPES = ("MIGRATION", "SYNC", "SUBSCRIBE")
TOP_LEVEL_KEYS = ("jobs", "tasks", "dts_jobs", "faults")
_FAULT_KEYS = {"kind", "seconds", "pages", "retry_after_ms"}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour.

    `seconds` is the delay of a `latency` fault; `pages`, when set, limits the fault to
    DescribeInitializationStatus requests with one of these PageNum values, or
    DescribeDtsJobs requests with one of these PageNumber values (requests without one
    count as page 1; modify-status and STS requests have no page and never match);
    `retry_after_ms` adds `x-acs-retry-after` to a `throttling` answer.
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


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json_value(value: object, path: str, source: str) -> None:
    """Bodies must hold JSON types only (YAML can produce dates, sets, binary...)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{source}: {path}: keys must be strings, got {key!r}")
            if not _encodable(key):
                raise ConfigError(f"{source}: {path}: a key holds a lone surrogate (not UTF-8)")
            _check_json_value(child, _join(path, key), source)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{path}[{index}]", source)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {path}: {value} is not a valid JSON number")
    elif isinstance(value, str) and not _encodable(value):
        # A JSON escape such as "\ud800" decodes to a lone surrogate, which no answer can
        # carry: refuse it here rather than drop the connection on every request.
        raise ConfigError(f"{source}: {path}: the string holds a lone surrogate (not UTF-8)")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise ConfigError(
            f"{source}: {path}: unsupported value of type {type(value).__name__} "
            "(quote it to keep it as a string)"
        )


def _check_list_of_mappings(value: object, path: str, source: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {path}: expected a list, got {_type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ConfigError(
                f"{source}: {path}[{index}]: expected a mapping, got {_type_name(item)}"
            )


def _check_job(body: Mapping[str, Any], path: str, source: str) -> None:
    for name in JOB_LIST_FIELDS:
        value = body.get(name)
        _check_list_of_mappings(value, _join(path, name), source)
        if name == "StructureInitializationDetails" and value:
            for index, item in enumerate(value):
                _check_list_of_mappings(
                    item.get("Constraints"), f"{path}.{name}[{index}].Constraints", source
                )


def _check_task(body: Mapping[str, Any], path: str, source: str) -> None:
    for name in TASK_STRUCT_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(
                f"{source}: {_join(path, name)}: expected a mapping, got {_type_name(value)}"
            )
    precheck = body.get("PrecheckStatus")
    if isinstance(precheck, dict):
        _check_list_of_mappings(precheck.get("Detail"), f"{path}.PrecheckStatus.Detail", source)


def _bodies(value: object, section: str, source: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: {section}: expected a mapping of id to body, got {_type_name(value)}"
        )
    bodies: dict[str, dict[str, Any]] = {}
    for raw_id, body in value.items():
        path = f"{section}.{raw_id}"
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: {path}: expected a mapping, got {_type_name(body)}")
        _check_json_value(body, path, source)
        if section == "jobs":
            _check_job(body, path, source)
        else:
            _check_task(body, path, source)
        bodies[str(raw_id)] = body
    return bodies


def _dts_job(entry: object, path: str, source: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: {path}: expected a mapping, got {_type_name(entry)}")
    _check_json_value(entry, path, source)
    job_type = entry.get("JobType")
    if job_type is None:
        raise ConfigError(f"{source}: {path}.JobType: missing (one of {', '.join(DTS_JOB_TYPES)})")
    if not isinstance(job_type, str) or job_type.strip().upper() not in DTS_JOB_TYPES:
        raise ConfigError(
            f"{source}: {path}.JobType: expected one of {', '.join(DTS_JOB_TYPES)}, "
            f"got {job_type!r}"
        )
    for name in DTS_JOB_STRUCT_FIELDS:
        value = entry.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(
                f"{source}: {path}.{name}: expected a mapping, got {_type_name(value)}"
            )
    return entry


def _dts_jobs(value: object, source: str) -> dict[str, tuple[dict[str, Any], ...]]:
    """`dts_jobs`: region to a list of DescribeDtsJobs `DtsJobList` entries."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: dts_jobs: expected a mapping of region to DtsJobList entries, "
            f"got {_type_name(value)}"
        )
    regions: dict[str, tuple[dict[str, Any], ...]] = {}
    for raw_region, entries in value.items():
        path = f"dts_jobs.{raw_region}"
        listed = [] if entries is None else entries
        if not isinstance(listed, list):
            raise ConfigError(
                f"{source}: {path}: expected a list of DtsJobList entries, got {_type_name(listed)}"
            )
        regions[str(raw_region)] = tuple(
            _dts_job(entry, f"{path}[{index}]", source) for index, entry in enumerate(listed)
        )
    return regions


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _parse_fault(spec: object, path: str, source: str) -> Fault:
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: {path}: expected a mapping, got {_type_name(spec)}")
    unknown = sorted(str(key) for key in spec if key not in _FAULT_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {path}.{unknown[0]}: unknown key "
            f"(expected one of: {', '.join(sorted(_FAULT_KEYS))})"
        )
    kind = spec.get("kind")
    if kind is None:
        raise ConfigError(f"{source}: {path}.kind: missing")
    if kind not in FAULT_KINDS:
        raise ConfigError(
            f"{source}: {path}.kind: unknown fault kind {kind!r} "
            f"(expected one of: {', '.join(FAULT_KINDS)})"
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
            f"{source}: {section}: expected a mapping of id to faults, got {_type_name(value)}"
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
                f"got {_type_name(specs)}"
            )
    return faults


def parse_scenario(data: object, source: str) -> Scenario:
    """Build a Scenario from already-decoded data; `source` prefixes error messages."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, "
            f"got {_type_name(data)}"
        )
    unknown = sorted(str(key) for key in data if key not in TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {unknown[0]}: unknown key (expected one of: {', '.join(TOP_LEVEL_KEYS)})"
        )
    return Scenario(
        jobs=_bodies(data.get("jobs"), "jobs", source),
        tasks=_bodies(data.get("tasks"), "tasks", source),
        dts_jobs=_dts_jobs(data.get("dts_jobs"), source),
        faults=parse_faults(data.get("faults"), source),
    )


def load_scenario(path: str) -> Scenario:
    """Read and validate a scenario file (JSON or YAML)."""
    return parse_scenario(read_document(path, "scenario file"), path)
