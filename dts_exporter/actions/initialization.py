"""DescribeInitializationStatus: per-table data initialization, schema objects, sync details.

Called once per job, paged: each page carries up to PAGE_SIZE entries of each of three
lists, and the job is whole only when every page arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dts_exporter.actions.spec import Action
from dts_exporter.actions.tables import TABLE, TABLE_SERIES, TableFamily, TableProgress
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS
from dts_exporter.base.errors import describe_kind
from dts_exporter.base.families import Builder, Metric, Options
from dts_exporter.base.fields import (
    Fields,
    IrregularError,
    dedupe,
    entries,
    error_code,
    keep_later,
    list_field,
    plain_label,
    plain_number,
    plain_own,
    plain_status,
    unwrap,
)
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import ONE_AT_A_TIME, Paging, fetch_pages

NAME = DESCRIBE_INITIALIZATION_STATUS
LISTS = (
    "StructureInitializationDetails",
    "DataInitializationDetails",
    "DataSynchronizationDetails",
)
PAGE_SIZE = 100
MAX_PAGES = 2000  # 200,000 rows per list: far beyond any real job, bounds a looping service

# Documented status values of tables, schema objects and sync details; others are kept.
OBJECT_STATUSES = ("NotStarted", "Migrating", "Failed", "Finished")


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
    pages: int = 1


# -- request ------------------------------------------------------------------------------


def request(
    client: DtsClient,
    job_id: str,
    *,
    region: str | None = None,
    deadline: float | None = None,
    paging: Paging = ONE_AT_A_TIME,
) -> dict[str, Any]:
    """All pages, the three lists concatenated."""

    def page(number: int) -> Mapping[str, Any]:
        params = {"SynchronizationJobId": job_id, "PageSize": str(PAGE_SIZE)}
        params["RegionId"] = region or client.region
        params["PageNum"] = str(number)
        return client.call(NAME, params, region=region, deadline=deadline)

    return fetch_pages(page, LISTS, PAGE_SIZE, max_pages=MAX_PAGES, action=NAME, paging=paging)


def fetch(
    client: DtsClient, target: Target, deadline: float | None, paging: Paging = ONE_AT_A_TIME
) -> InitializationStatus:
    body = request(client, target.job_id, region=target.region, deadline=deadline, paging=paging)
    return parse(body)


# -- parsing ------------------------------------------------------------------------------


def parse(body: Mapping[str, Any]) -> InitializationStatus:
    problems: list[str] = []
    tables = [
        _table(entry, i, problems)
        for i, entry in entries(
            list_field(body, "DataInitializationDetails"), "DataInitializationDetails", problems
        )
    ]
    tables, repeated = dedupe(tables, lambda t: (t.source_db, t.dest_db, t.table), _more_advanced)
    structure = [
        _structure_object(entry, f"StructureInitializationDetails[{i}]", problems)
        for i, entry in entries(
            list_field(body, "StructureInitializationDetails"),
            "StructureInitializationDetails",
            problems,
        )
    ]
    structure, _ = dedupe(
        structure, lambda o: (o.source_db, o.dest_db, o.object_type, o.object_name), keep_later
    )
    sync_items = list_field(body, "DataSynchronizationDetails")
    synchronization: tuple[SyncDetail, ...] | None = None
    if sync_items is not None:
        details = [
            _sync_detail(Fields(entry, f"DataSynchronizationDetails[{i}]", problems))
            for i, entry in entries(sync_items, "DataSynchronizationDetails", problems)
        ]
        merged, _ = dedupe(details, lambda d: (d.source_db, d.dest_db, d.table), keep_later)
        synchronization = tuple(merged)
    pages = body.get("PageCount")
    return InitializationStatus(
        tables=tuple(tables),
        structure=tuple(structure),
        synchronization=synchronization,
        duplicates=tuple(f"{src}.{table}" for src, _, table in repeated),
        problems=tuple(problems),
        pages=pages if isinstance(pages, int) else 1,
    )


def _more_advanced(new: TableProgress, old: TableProgress) -> bool:
    # Paging a list that changes underneath can repeat a table: keep the later view,
    # which is the one with more rows copied (ties: the later entry).
    return (new.finished_rows or 0.0) >= (old.finished_rows or 0.0)


def _table(entry: Mapping[str, Any], index: int, problems: list[str]) -> TableProgress:
    """One DataInitializationDetails entry: the fast path, or `Fields` if it is irregular."""
    get = entry.get
    try:
        return TableProgress(
            source_db=plain_label(get("SourceOwnerDBName")),
            dest_db=plain_label(get("DestinationOwnerDBName")),
            table=plain_own(get("TableName")),
            status=plain_status(get("Status")),
            total_rows=plain_number(get("TotalRowNum")),
            finished_rows=plain_number(get("FinishRowNum")),
            used_time_seconds=plain_number(get("UsedTime")),
            error_message=plain_own(get("ErrorMessage")),
        )
    except (IrregularError, ValueError):
        f = Fields(entry, f"DataInitializationDetails[{index}]", problems)
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
    f = Fields(entry, where, problems)
    constraints: tuple[StructureObject, ...] = ()
    if not nested:
        raw = unwrap(entry.get("Constraints"))
        if isinstance(raw, list):
            constraints = tuple(
                _structure_object(item, f"{where}.Constraints[{i}]", problems, nested=True)
                for i, item in entries(raw, f"{where}.Constraints", problems)
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


def _sync_detail(f: Fields) -> SyncDetail:
    return SyncDetail(
        source_db=f.text("SourceOwnerDBName"),
        dest_db=f.text("DestinationOwnerDBName"),
        table=f.text("TableName"),
        status=f.status("Status"),
        error_message=f.text("ErrorMessage"),
    )


# -- metrics ------------------------------------------------------------------------------

TABLE_ERROR = Metric(
    "dts_data_initialization_table_error",
    "1 for a table whose data initialization reports an error; code is DTS-nnnn, "
    "a Java exception class or Other.",
    (*TABLE, "code"),
)
TABLE_SERIES_OMITTED = Metric(
    "dts_data_initialization_table_series_omitted",
    "Tables of the job without per-table series: reason=filtered by table_metrics, "
    "reason=capped by max_table_series_per_job (the largest row gaps are kept).",
    ("job_id", "reason"),
)
TABLES = Metric(
    "dts_data_initialization_tables",
    "Tables per data initialization status "
    "(NotStarted, Migrating, Failed, Finished always present).",
    ("job_id", "status"),
)
OBJECTS = Metric(
    "dts_structure_initialization_objects",
    "Schema objects per type and status; the four statuses are present for every type seen.",
    ("job_id", "object_type", "status"),
)
CONSTRAINTS = Metric(
    "dts_structure_initialization_constraints",
    "Constraints nested under Table objects, per status (four statuses always present).",
    ("job_id", "status"),
)
OBJECT_ERROR = Metric(
    "dts_structure_initialization_object_error",
    "1 for a schema object or constraint that reports an error; code as for tables.",
    ("job_id", "source_db", "dest_db", "object_type", "object", "code"),
)
SYNC_TABLES = Metric(
    "dts_data_synchronization_tables",
    "DataSynchronizationDetails entries per status, when the service still returns them.",
    ("job_id", "status"),
)

METRICS = (
    *(metric for metric, _ in TABLE_SERIES),
    TABLE_ERROR,
    TABLE_SERIES_OMITTED,
    TABLES,
    OBJECTS,
    CONSTRAINTS,
    OBJECT_ERROR,
    SYNC_TABLES,
)


# -- families -----------------------------------------------------------------------------


def select_tables(
    tables: Sequence[TableProgress], table_metrics: str, cap: int
) -> tuple[list[TableProgress], int, int]:
    """The tables that get per-table series, and how many were filtered and capped.

    The cap keeps the tables with the largest row gaps (those with no gap last); the
    chosen tables keep the order the API listed them in.
    """
    if table_metrics == "none":
        return [], len(tables), 0
    chosen = [t for t in tables if table_metrics == "all" or t.status != "Finished"]
    filtered = len(tables) - len(chosen)
    if cap <= 0 or len(chosen) <= cap:
        return chosen, filtered, 0
    gaps = [t.row_gap for t in chosen]
    ranked = sorted(range(len(chosen)), key=lambda i: (gaps[i] is None, -(gaps[i] or 0.0), i))
    keep = sorted(ranked[:cap])
    return [chosen[i] for i in keep], filtered, len(chosen) - cap


def families(b: Builder, target: Target, status: InitializationStatus, options: Options) -> None:
    job_id = target.job_id
    tables, filtered, capped = select_tables(
        status.tables, options.table_metrics, options.max_table_series_per_job
    )
    b.add(TABLE_SERIES_OMITTED, (job_id, "filtered"), float(filtered))
    b.add(TABLE_SERIES_OMITTED, (job_id, "capped"), float(capped))
    # Per-table series are made when the exposition reads them (see TableFamily). The
    # families are created here, in the order eager adds would create them (the first table
    # with a value creates a metric's family); table errors are few and added as usual.
    pending = [(metric, read) for metric, read in TABLE_SERIES if not b.has(metric)]
    for table in tables:
        if pending:
            for metric, read in list(pending):
                if read(table) is not None:
                    b.put(TableFamily(metric))
                    pending.remove((metric, read))
        if table.error_message:
            labels = (job_id, table.source_db, table.dest_db, table.table)
            b.add(TABLE_ERROR, (*labels, error_code(table.error_message)), 1.0)
    for metric, _ in TABLE_SERIES:
        family = b.get(metric)
        if isinstance(family, TableFamily):
            family.add_tables(job_id, tables)
    b.counts(TABLES, (job_id,), (t.status for t in status.tables), OBJECT_STATUSES)

    by_type: dict[str, list[str]] = {}
    constraints: list[str] = []
    for obj in status.structure:
        by_type.setdefault(obj.object_type, []).append(obj.status)
        for item in (obj, *obj.constraints):
            if item.error_message:
                labels = (job_id, item.source_db, item.dest_db, item.object_type)
                code = error_code(item.error_message)
                b.add(OBJECT_ERROR, (*labels, item.object_name, code), 1.0)
        constraints.extend(c.status for c in obj.constraints)
    for object_type in sorted(by_type):
        b.counts(OBJECTS, (job_id, object_type), by_type[object_type], OBJECT_STATUSES)
    b.counts(CONSTRAINTS, (job_id,), constraints, OBJECT_STATUSES)

    if status.synchronization is not None:
        details = (d.status for d in status.synchronization)
        b.counts(SYNC_TABLES, (job_id,), details, OBJECT_STATUSES)


# -- the action ---------------------------------------------------------------------------


def settled(status: InitializationStatus) -> bool:
    """Every table and schema object Finished: nothing left to move."""
    objects = [o for obj in status.structure for o in (obj, *obj.constraints)]
    return (
        bool(status.tables)
        and all(table.status == "Finished" for table in status.tables)
        and all(obj.status == "Finished" for obj in objects)
    )


def summary(status: InitializationStatus) -> str:
    sync = "absent" if status.synchronization is None else str(len(status.synchronization))
    return (
        f"{len(status.tables)} tables, {len(status.structure)} schema objects, "
        f"{sync} sync details, {status.pages} page(s)"
    )


def notes(status: InitializationStatus) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("table listed more than once, merged", status.duplicates),)


ACTION = Action(
    name=NAME,
    scope="job",
    metrics=METRICS,
    fetch=fetch,
    settled=settled,
    families=families,
    summary=summary,
    notes=notes,
    pages=lambda status: status.pages,
)
