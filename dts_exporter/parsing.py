"""Pure functions from raw API answers to typed records.

The service is loose with types: numbers come as strings, ints or floats; fields may be
missing, empty or null; status values beyond the documented ones occur. A missing or
unusable scalar becomes None (and is reported in `problems`, never silently invented);
a structure that is not what the API documents raises DtsApiError(InvalidResponse).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError, describe_kind

INITIALIZATION_LISTS = (
    "StructureInitializationDetails",
    "DataInitializationDetails",
    "DataSynchronizationDetails",
)

# Documented status values; others are kept as they come.
OBJECT_STATUSES = ("NotStarted", "Migrating", "Failed", "Finished")
TASK_STATUSES = ("NotStarted", "Prechecking", "PrecheckFailed", "Migrating", "Failed", "Finished")
MISSING_STATUS = "Unknown"

_DTS_CODE_RE = re.compile(r"\bDTS-\d{4,}\b")
# Bounded repetitions: the unbounded form took seconds on hostile messages such as
# "a.a.a.…a.BBBB…" (quadratic backtracking); real package segments and class names are short.
_EXCEPTION_RE = re.compile(r"\b(?:[a-z_]\w{0,63}\.){1,16}[A-Z]\w{0,100}(?:Exception|Error)\b")
# Only the start of a message is searched for a code: DTS puts it there, and messages can be
# as long as the 64 MiB answer.
_CODE_SEARCH_CHARS = 8192
_STATUS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class TableProgress:
    """One DataInitializationDetails entry."""

    source_db: str
    dest_db: str
    table: str
    status: str
    total_rows: float | None
    finished_rows: float | None
    used_time_seconds: float | None
    error_message: str


@dataclass(frozen=True)
class StructureObject:
    """One StructureInitializationDetails entry (or a nested constraint)."""

    source_db: str
    dest_db: str
    object_type: str
    object_name: str
    status: str
    error_message: str
    constraints: tuple[StructureObject, ...] = ()


@dataclass(frozen=True)
class SyncDetail:
    """One DataSynchronizationDetails entry (documented as going away)."""

    source_db: str
    dest_db: str
    table: str
    status: str
    error_message: str


@dataclass(frozen=True)
class InitializationStatus:
    tables: tuple[TableProgress, ...]
    structure: tuple[StructureObject, ...]
    synchronization: tuple[SyncDetail, ...] | None  # None when the list is absent
    duplicates: tuple[str, ...] = ()  # "db.table" names listed more than once (merged)
    problems: tuple[str, ...] = ()  # fields that were present but unusable


@dataclass(frozen=True)
class Stage:
    """One stage of a modify task (precheck, structure/data initialization, data sync)."""

    status: str | None
    percent: float | None
    progress: float | None = None
    delay_seconds: float | None = None
    error_message: str = ""


@dataclass(frozen=True)
class PrecheckItem:
    name: str
    check_status: str
    error_message: str
    repair_method: str


@dataclass(frozen=True)
class ModifyStatus:
    status: str | None
    error_message: str
    precheck: Stage | None
    precheck_items: tuple[PrecheckItem, ...]
    structure_initialization: Stage | None
    data_initialization: Stage | None
    data_synchronization: Stage | None
    problems: tuple[str, ...] = ()


# -- scalar helpers -------------------------------------------------------------------------


def list_field(body: Mapping[str, Any], key: str) -> list[Any] | None:
    """A list-valued field; None when absent or null.

    Tolerates the XML-to-JSON wrapping some Alibaba APIs use (`{"Item": [...]}`).
    """
    value = _unwrap(body.get(key))
    if value is None or value == "":
        return None
    if not isinstance(value, list):
        raise DtsApiError(
            errors.INVALID_RESPONSE, f"{key} is {describe_kind(value)}, expected a list"
        )
    return value


def _unwrap(value: object) -> object:
    """`{"Item": [...]}` or `{"Item": {...}}` -> the list (XML-to-JSON wrapping); else as is."""
    if isinstance(value, Mapping) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list):
            return inner
        if isinstance(inner, Mapping):
            return [inner]
    return value


def clean_text(text: str) -> str:
    """Text that UTF-8 can encode: a JSON escape such as `\\ud800` decodes to a lone
    surrogate, which would make the exposition (and so the whole scrape) fail."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def error_code(message: str) -> str:
    """A bounded code from a free-text error message: `DTS-1020042`, a Java exception
    class, or "" when nothing recognisable is there."""
    if not message:
        return ""
    head = message[:_CODE_SEARCH_CHARS]
    match = _DTS_CODE_RE.search(head) or _EXCEPTION_RE.search(head)
    return match.group(0) if match else "Other"


class _Fields:
    """Reads scalar fields of one entry, noting unusable values in `problems`."""

    def __init__(self, entry: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.entry = entry
        self.where = where
        self.problems = problems

    def text(self, key: str) -> str:
        value = self.entry.get(key)
        if value is None:
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                return clean_text(str(value)).strip()
            except ValueError:  # an integer with more digits than str() converts
                pass
        self.problems.append(f"{self.where}.{key}: {describe_kind(value)} is not text")
        return ""

    def status(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return MISSING_STATUS
        if not _STATUS_RE.match(value):
            self.problems.append(f"{self.where}.{key}: unexpected status {value[:40]!r}")
            return "Other"
        return value

    def number(self, key: str) -> float | None:
        value = self.entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        result: float | None = None
        if isinstance(value, bool):
            result = None
        elif isinstance(value, (int, float)):
            try:
                result = float(value)
            except OverflowError:  # an integer beyond any float
                result = None
        elif isinstance(value, str):
            try:
                result = float(value.strip())
            except (ValueError, OverflowError):
                result = None
        if result is None or not math.isfinite(result):
            self.problems.append(f"{self.where}.{key}: {describe_kind(value)} is not a number")
            return None
        return result


# -- the fast path for well-formed entries ------------------------------------------------
#
# Nearly every entry is plain JSON strings. The helpers below read those directly, without
# building a `_Fields` (and its location text) per entry; anything else (a missing status
# aside) raises `_IrregularError`, or ValueError for a number that does not parse, and the
# entry is read again by `_Fields`, which notes the problem. Same values, same problems.

# Statuses known to be well-formed (they match _STATUS_RE), accepted without the regex.
_KNOWN_STATUSES = frozenset((*OBJECT_STATUSES, *TASK_STATUSES, "Success"))


class _IrregularError(Exception):
    """An entry the fast path leaves to `_Fields`."""


def _plain_text(value: object) -> str:
    if type(value) is str:
        return clean_text(value).strip()
    if value is None:
        return ""
    raise _IrregularError


def _plain_own(value: object) -> str:
    """Like `_plain_text`, a copy of its own: a record that kept a string of the decoded
    answer would pin the allocator's block it sits in, one per page, so the memory of the
    raw answers (far larger than the records) could not be reused once they are dropped."""
    text = _plain_text(value)
    return text.encode().decode() if text else text


def _plain_label(value: object) -> str:
    """Like `_plain_text`, interned: database names and statuses repeat on every table, and
    each is then held once, not once per table and series."""
    if type(value) is str:
        return sys.intern(clean_text(value).strip())
    if value is None:
        return ""
    raise _IrregularError


def _plain_status(value: object) -> str:
    text = _plain_label(value)
    if not text:
        return MISSING_STATUS
    if text in _KNOWN_STATUSES or _STATUS_RE.match(text):
        return text
    raise _IrregularError


def _plain_number(value: object) -> float | None:
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
        result = float(text)  # ValueError: left to _Fields
    elif value is None:
        return None
    else:
        raise _IrregularError
    if not math.isfinite(result):
        raise _IrregularError
    return result


def _entries(
    items: list[Any] | None, where: str, problems: list[str]
) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for index, item in enumerate(items or []):
        if type(item) is dict or isinstance(item, Mapping):
            yield index, item
        else:
            problems.append(f"{where}[{index}]: {describe_kind(item)} is not an object")


def _dedupe(
    items: Iterable[T], key: Callable[[T], K], better: Callable[[T, T], bool]
) -> tuple[list[T], list[K]]:
    """Merge entries with the same key deterministically; return them and the repeated keys."""
    kept: dict[K, T] = {}
    repeated: list[K] = []
    for item in items:  # fresh records, one per entry: `is` tells a repeat from the first
        k = key(item)
        old = kept.setdefault(k, item)
        if old is not item:
            if k not in repeated:
                repeated.append(k)
            if better(item, old):
                kept[k] = item
    return list(kept.values()), repeated


def _more_advanced(new: TableProgress, old: TableProgress) -> bool:
    # Paging a list that changes underneath can repeat a table: keep the later view,
    # which is the one with more rows copied (ties: the later entry).
    return (new.finished_rows or 0.0) >= (old.finished_rows or 0.0)


# -- DescribeInitializationStatus ----------------------------------------------------------


def parse_initialization_status(body: Mapping[str, Any]) -> InitializationStatus:
    problems: list[str] = []
    tables = [
        _table_entry(entry, i, problems)
        for i, entry in _entries(
            list_field(body, "DataInitializationDetails"), "DataInitializationDetails", problems
        )
    ]
    tables, repeated = _dedupe(tables, lambda t: (t.source_db, t.dest_db, t.table), _more_advanced)
    structure = [
        _structure_object(entry, f"StructureInitializationDetails[{i}]", problems)
        for i, entry in _entries(
            list_field(body, "StructureInitializationDetails"),
            "StructureInitializationDetails",
            problems,
        )
    ]
    structure, _ = _dedupe(
        structure,
        lambda o: (o.source_db, o.dest_db, o.object_type, o.object_name),
        lambda new, old: True,
    )
    sync_items = list_field(body, "DataSynchronizationDetails")
    synchronization: tuple[SyncDetail, ...] | None = None
    if sync_items is not None:
        details = [
            _sync_detail(_Fields(entry, f"DataSynchronizationDetails[{i}]", problems))
            for i, entry in _entries(sync_items, "DataSynchronizationDetails", problems)
        ]
        merged, _ = _dedupe(
            details, lambda d: (d.source_db, d.dest_db, d.table), lambda new, old: True
        )
        synchronization = tuple(merged)
    return InitializationStatus(
        tables=tuple(tables),
        structure=tuple(structure),
        synchronization=synchronization,
        duplicates=tuple(f"{src}.{table}" for src, _, table in repeated),
        problems=tuple(problems),
    )


def _table_entry(entry: Mapping[str, Any], index: int, problems: list[str]) -> TableProgress:
    """One DataInitializationDetails entry: the fast path, or `_Fields` if it is irregular."""
    get = entry.get
    try:
        return TableProgress(
            source_db=_plain_label(get("SourceOwnerDBName")),
            dest_db=_plain_label(get("DestinationOwnerDBName")),
            table=_plain_own(get("TableName")),
            status=_plain_status(get("Status")),
            total_rows=_plain_number(get("TotalRowNum")),
            finished_rows=_plain_number(get("FinishRowNum")),
            used_time_seconds=_plain_number(get("UsedTime")),
            error_message=_plain_own(get("ErrorMessage")),
        )
    except (_IrregularError, ValueError):
        return _table(_Fields(entry, f"DataInitializationDetails[{index}]", problems))


def _table(f: _Fields) -> TableProgress:
    return TableProgress(
        source_db=f.text("SourceOwnerDBName"),
        dest_db=f.text("DestinationOwnerDBName"),
        table=f.text("TableName"),
        status=f.status("Status"),
        total_rows=f.number("TotalRowNum"),
        finished_rows=f.number("FinishRowNum"),
        used_time_seconds=f.number("UsedTime"),
        error_message=f.text("ErrorMessage"),
    )


def _structure_object(
    entry: Mapping[str, Any], where: str, problems: list[str], *, nested: bool = False
) -> StructureObject:
    f = _Fields(entry, where, problems)
    constraints: tuple[StructureObject, ...] = ()
    if not nested:
        raw = _unwrap(entry.get("Constraints"))
        if isinstance(raw, list):
            constraints = tuple(
                _structure_object(item, f"{where}.Constraints[{i}]", problems, nested=True)
                for i, item in _entries(raw, f"{where}.Constraints", problems)
            )
        elif raw not in (None, ""):
            problems.append(f"{where}.Constraints: {describe_kind(raw)} is not a list")
    return StructureObject(
        source_db=f.text("SourceOwnerDBName"),
        dest_db=f.text("DestinationOwnerDBName"),
        object_type=f.text("ObjectType") or "Unknown",
        object_name=f.text("ObjectName"),
        status=f.status("Status"),
        error_message=f.text("ErrorMessage"),
        constraints=constraints,
    )


def _sync_detail(f: _Fields) -> SyncDetail:
    return SyncDetail(
        source_db=f.text("SourceOwnerDBName"),
        dest_db=f.text("DestinationOwnerDBName"),
        table=f.text("TableName"),
        status=f.status("Status"),
        error_message=f.text("ErrorMessage"),
    )


# -- DescribeSynchronizationObjectModifyStatus ---------------------------------------------


def parse_modify_status(body: Mapping[str, Any]) -> ModifyStatus:
    problems: list[str] = []
    top = _Fields(body, "", problems)
    status_text = top.text("Status")
    precheck_raw = _struct(body, "PrecheckStatus", problems)
    items: list[PrecheckItem] = []
    if precheck_raw is not None:
        detail = _unwrap(precheck_raw.get("Detail"))
        if isinstance(detail, Mapping):  # a single check item, not in a list
            detail = [detail]
        if isinstance(detail, list):
            for i, entry in _entries(detail, "PrecheckStatus.Detail", problems):
                f = _Fields(entry, f"PrecheckStatus.Detail[{i}]", problems)
                items.append(
                    PrecheckItem(
                        name=f.text("ItemName") or "Unknown",
                        check_status=f.status("CheckStatus"),
                        error_message=f.text("ErrorMessage"),
                        repair_method=f.text("RepairMethod"),
                    )
                )
        elif detail not in (None, ""):
            problems.append(f"PrecheckStatus.Detail: {describe_kind(detail)} is not a list")
    items, _ = _dedupe(items, lambda item: item.name, lambda new, old: True)
    return ModifyStatus(
        status=(top.status("Status") if status_text else None),
        error_message=top.text("ErrorMessage"),
        precheck=_stage(precheck_raw, "PrecheckStatus", problems),
        precheck_items=tuple(items),
        structure_initialization=_stage(
            _struct(body, "StructureInitializationStatus", problems),
            "StructureInitializationStatus",
            problems,
        ),
        data_initialization=_stage(
            _struct(body, "DataInitializationStatus", problems),
            "DataInitializationStatus",
            problems,
        ),
        data_synchronization=_stage(
            _struct(body, "DataSynchronizationStatus", problems),
            "DataSynchronizationStatus",
            problems,
        ),
        problems=tuple(problems),
    )


def _struct(body: Mapping[str, Any], key: str, problems: list[str]) -> Mapping[str, Any] | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        problems.append(f"{key}: {describe_kind(value)} is not an object")
        return None
    return value


def _stage(raw: Mapping[str, Any] | None, where: str, problems: list[str]) -> Stage | None:
    if raw is None:
        return None
    f = _Fields(raw, where, problems)
    return Stage(
        status=f.status("Status") if f.text("Status") else None,
        percent=f.number("Percent"),
        progress=f.number("Progress"),
        delay_seconds=f.number("Delay"),
        error_message=f.text("ErrorMessage"),
    )


# -- DescribeDtsJobs (discovery) -------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveredJob:
    """A synchronization job as DescribeDtsJobs lists it."""

    job_id: str  # DtsInstanceID: what DescribeInitializationStatus takes
    name: str
    region: str
    status: str
    source_engine: str
    destination_engine: str
    delay_seconds: float | None
    checkpoint_timestamp: float | None


def parse_dts_jobs(body: Mapping[str, Any], region: str) -> tuple[list[DiscoveredJob], int | None]:
    """One page of DescribeDtsJobs: the jobs on it and TotalRecordCount (None if absent)."""
    problems: list[str] = []
    jobs: list[DiscoveredJob] = []
    for i, entry in _entries(list_field(body, "DtsJobList"), "DtsJobList", problems):
        f = _Fields(entry, f"DtsJobList[{i}]", problems)
        job_id = f.text("DtsInstanceID") or f.text("DtsJobId")
        if not job_id:
            continue
        delay = f.number("Delay")
        if delay is not None and f.text("JobType").upper() == "MIGRATION":
            delay /= 1000.0  # milliseconds for migration jobs, seconds for synchronization
        jobs.append(
            DiscoveredJob(
                job_id=job_id,
                name=f.text("DtsJobName"),
                region=region,
                status=f.text("Status"),
                source_engine=_engine(entry.get("SourceEndpoint")),
                destination_engine=_engine(entry.get("DestinationEndpoint")),
                delay_seconds=delay,
                checkpoint_timestamp=f.number("Checkpoint"),
            )
        )
    total = _Fields(body, "", problems).number("TotalRecordCount")
    return jobs, None if total is None else int(total)


def _engine(endpoint: object) -> str:
    if isinstance(endpoint, Mapping):
        value = endpoint.get("EngineName")
        if isinstance(value, str):
            return clean_text(value).strip()
    return ""
