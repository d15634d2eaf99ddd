"""The built-in demo's synchronization jobs, which evolve with time; their tasks: `demo_tasks`.

The jobs, tables, schema objects, messages and timings are data, in `data/demo.yaml`; this
module turns them into bodies. Everything is a pure function of the seconds elapsed since
the simulator started, so a given elapsed time always yields the same answer. Bodies are
shaped exactly like recorded DescribeInitializationStatus answers (numbers as strings, key
order of the API samples) and are paged by the server like scenario bodies.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

NOT_STARTED = "NotStarted"
MIGRATING = "Migrating"
FAILED = "Failed"
FINISHED = "Finished"


def load_data(name: str) -> Any:
    """A YAML file of `data/`, parsed: the demo's content lives there, not in code."""
    path = resources.files("dts_exporter.simulator") / "data" / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


_DATA: dict[str, Any] = load_data("demo.yaml")

DEMO_ACCESS_KEY_ID: str = _DATA["access_key_id"]
DEMO_ACCESS_KEY_SECRET: str = _DATA["access_key_secret"]
_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(tuple(row) for row in _DATA["columns"])
_STRUCTURE_STEP: float = _DATA["structure_step"]
_INCREMENTAL_ERROR: str = _DATA["incremental_error"]


@dataclass(frozen=True)
class DemoJob:
    job_id: str
    name: str
    task_ids: tuple[str, ...]


def _unit(*parts: object) -> float:
    """A deterministic pseudo-random number in [0, 1) derived from `parts`."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()
    return int(digest[:13], 16) / float(16**13)


# --- plans: what each job contains and when things happen ------------------------------


@dataclass(frozen=True)
class _Object:
    """A schema object; constraints and indexes are objects nested under their table."""

    name: str
    object_type: str
    definition: str
    error: str | None = None


@dataclass(frozen=True)
class _Table:
    name: str
    total: int
    start: float  # seconds after simulator start when full data begins
    duration: float
    gap: int  # FinishRowNum - TotalRowNum once finished
    definition: str
    fail_after: float | None = None  # seconds after `start`
    error: str = ""
    structure_error: str | None = None
    constraints: tuple[_Object, ...] = ()


@dataclass(frozen=True)
class _Plan:
    job: DemoJob
    engine: str
    source_db: str
    dest_db: str
    tables: tuple[_Table, ...]
    objects: tuple[_Object, ...]
    incremental: bool


@dataclass(frozen=True)
class _Timing:
    first_start: float
    stagger: float
    min_duration: float
    max_duration: float
    min_rows_log10: float
    max_rows_log10: float


def _columns(table: str) -> list[tuple[str, str, str]]:
    count = 3 + int(_unit(table, "columns") * 3)
    ranked = sorted(_COLUMNS, key=lambda column: _unit(table, column[0]))
    return ranked[:count]


def _mysql_table(db: str, table: str, total: int) -> str:
    lines = ["`id`  bigint(20) unsigned   auto_increment  COMMENT ''   NOT NULL   "]
    for name, mysql_type, _ in _columns(table):
        charset = (
            "  CHARSET `utf8mb4` COLLATE `utf8mb4_general_ci`  "
            if mysql_type.startswith(("varchar", "char"))
            else "   "
        )
        lines.append(f"`{name}`  {mysql_type}{charset}  COMMENT ''   NULL   ")
    return (
        f"CREATE TABLE `{db}`.`{table}` (\n"
        + ", \n".join(lines)
        + f"\n, PRIMARY KEY (`id`)) engine=InnoDB AUTO_INCREMENT={total + 1} "
        "DEFAULT CHARSET=`utf8mb4` DEFAULT COLLATE `utf8mb4_general_ci` "
        "ROW_FORMAT= Dynamic comment = '' ;\n"
    )


def _pg_table(table: str, geometry: bool) -> str:
    lines = [f'"id" int8 NOT NULL DEFAULT nextval(\'"public"."{table}_id_seq"\'::regclass)']
    lines += [f'"{name}" {pg_type}' for name, _, pg_type in _columns(table)]
    if geometry:
        lines.append('"geom" "public"."geometry"(Point,4326)')
    return (
        f'CREATE TABLE "public"."{table}" (\n'
        + ",\n".join(lines)
        + f'\n,CONSTRAINT "{table}_pkey" PRIMARY KEY ("id")\n);\n'
    )


def _pg_sequence(table: str) -> _Object:
    return _Object(
        f"{table}_id_seq",
        "Sequence",
        f'CREATE SEQUENCE "public"."{table}_id_seq" MINVALUE 1 MAXVALUE 9223372036854775807 '
        f"START {1 + int(_unit(table, 'seq') * 90000)} INCREMENT BY 1 ;",
    )


def _pg_key(table: str) -> _Object:
    return _Object(
        f"{table}_pkey",
        "Constraint",
        f'ALTER TABLE "public"."{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY ("id");',
    )


def _index(spec: Mapping[str, Any], table: str) -> tuple[_Object, ...]:
    """The index the job's `indexes` names for `table`, else a generated one or none."""
    listed = spec.get("indexes", {}).get(table)
    if listed is not None:
        return (_Object(listed["name"], "Index", listed["definition"], listed.get("error")),)
    column = _columns(table)[0][0]
    name = f"idx_{table}_{column}"
    if spec["engine"] == "PostgreSQL":
        if _unit(table, "index") >= 0.5:
            return ()
        sql = f'CREATE INDEX "{name}" ON "public"."{table}" USING btree ("{column}");'
    else:
        if _unit(spec["job_id"], table, "index") >= 0.3:
            return ()
        sql = f"CREATE INDEX `{name}` ON `{spec['source_db']}`.`{table}` (`{column}`) ;"
    return (_Object(name, "Index", sql),)


def _table(spec: Mapping[str, Any], timing: _Timing, index: int, name: str) -> _Table:
    """Table `index` of the job `spec`: size, duration and row gap drawn from its name."""
    job_id = spec["job_id"]
    span = timing.max_rows_log10 - timing.min_rows_log10
    total = int(10 ** (timing.min_rows_log10 + span * _unit(job_id, name, "rows")))
    duration = timing.min_duration + (timing.max_duration - timing.min_duration) * _unit(
        job_id, name, "duration"
    )
    gap = 0
    if _unit(job_id, name, "gap") < 0.35:
        size = max(1, int(total * 0.0015 * _unit(job_id, name, "gap-size")))
        gap = size if _unit(job_id, name, "gap-sign") < 0.6 else -size
    if spec["engine"] == "PostgreSQL":
        definition = _pg_table(name, name in spec.get("geometry_tables", ()))
        constraints = (_pg_key(name), *_index(spec, name))
    else:
        definition = _mysql_table(spec["source_db"], name, total)
        constraints = _index(spec, name)
    failure = spec.get("failures", {}).get(name)
    return _Table(
        name=name,
        total=total,
        start=timing.first_start + index * timing.stagger,
        duration=duration,
        gap=gap,
        definition=definition,
        fail_after=None if failure is None else failure["after"] * duration,
        error="" if failure is None else failure["error"],
        structure_error=spec.get("structure_errors", {}).get(name),
        constraints=constraints,
    )


def _plan(spec: Mapping[str, Any]) -> _Plan:
    timing = _Timing(**spec["timing"])
    listed = (
        _Object(item["name"], item["type"], item["definition"], item.get("error"))
        for item in spec["objects"]
    )
    return _Plan(
        job=DemoJob(spec["job_id"], spec["name"], tuple(spec["task_ids"])),
        engine=spec["engine"],
        source_db=spec["source_db"],
        dest_db=spec["dest_db"],
        tables=tuple(
            _table(spec, timing, index, name) for index, name in enumerate(spec["tables"])
        ),
        objects=(*(_pg_sequence(name) for name in spec.get("sequences", ())), *listed),
        incremental=spec["incremental"],
    )


_PLANS: dict[str, _Plan] = {plan.job.job_id: plan for plan in map(_plan, _DATA["jobs"])}
DEMO_JOBS: tuple[DemoJob, ...] = tuple(plan.job for plan in _PLANS.values())


# --- state at a given elapsed time --------------------------------------------------------


def progress_curve(fraction: float) -> float:
    """Smooth, strictly increasing progress curve from 0 to 1 with a gentle wobble."""
    fraction = min(max(fraction, 0.0), 1.0)
    return fraction + 0.035 * math.sin(2 * math.pi * fraction)


def _structure_status(index: int, elapsed: float, error: str | None) -> str:
    begin = index * _STRUCTURE_STEP
    if elapsed < begin:
        return NOT_STARTED
    if elapsed < begin + _STRUCTURE_STEP:
        return MIGRATING
    return FAILED if error else FINISHED


def _data_state(table: _Table, elapsed: float) -> tuple[str, int, float]:
    """(Status, FinishRowNum, UsedTime) of a table's full data at `elapsed`."""
    if elapsed < table.start:
        return NOT_STARTED, 0, 0.0
    running = elapsed - table.start
    if table.fail_after is not None and running >= table.fail_after:
        rows = int(table.total * progress_curve(table.fail_after / table.duration))
        return FAILED, rows, table.fail_after
    if running < table.duration:
        rows = min(int(table.total * progress_curve(running / table.duration)), table.total - 1)
        return MIGRATING, max(rows, 0), running
    return FINISHED, table.total + table.gap, table.duration


def _structure_item(plan: _Plan, obj: _Object, status: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Status": status,
        "ObjectType": obj.object_type,
        "ObjectDefinition": obj.definition,
        "SourceOwnerDBName": plan.source_db,
        "DestinationOwnerDBName": plan.dest_db,
        "ObjectName": obj.name,
    }
    if status == FAILED and obj.error:
        item["ErrorMessage"] = obj.error
    return item


def _constraints(plan: _Plan, table: _Table, data_status: str) -> list[dict[str, Any]]:
    """Constraints and indexes are created once the table's full data is in."""
    items = []
    for constraint in table.constraints:
        if data_status == FINISHED:
            status = FAILED if constraint.error else FINISHED
        else:
            status = NOT_STARTED
        items.append(_structure_item(plan, constraint, status))
    return items


def _job_body(plan: _Plan, elapsed: float) -> dict[str, Any]:
    structure: list[dict[str, Any]] = []
    data: list[dict[str, Any]] = []
    incremental: list[dict[str, Any]] = []
    for index, table in enumerate(plan.tables):
        data_status, rows, used = _data_state(table, elapsed)
        status = _structure_status(index, elapsed, table.structure_error)
        schema = _Object(table.name, "Table", table.definition, table.structure_error)
        item = _structure_item(plan, schema, status)
        if table.constraints:
            item["Constraints"] = _constraints(plan, table, data_status)
        structure.append(item)
        row: dict[str, Any] = {
            "Status": data_status,
            "TableName": table.name,
            "TotalRowNum": str(table.total),
            "UsedTime": f"{used:.1f}",
            "SourceOwnerDBName": plan.source_db,
            "DestinationOwnerDBName": plan.dest_db,
            "FinishRowNum": str(rows),
        }
        if data_status == FAILED:
            row["ErrorMessage"] = table.error
        data.append(row)
        if plan.incremental:
            incremental.append(_incremental_item(plan, table, data_status))
    for offset, obj in enumerate(plan.objects, start=len(plan.tables)):
        status = _structure_status(offset, elapsed, obj.error)
        structure.append(_structure_item(plan, obj, status))
    body: dict[str, Any] = {
        "StructureInitializationDetails": structure,
        "RequestId": "",
        "DataInitializationDetails": data,
    }
    if plan.incremental:
        body["DataSynchronizationDetails"] = incremental
    body["Success"] = True
    return body


def _incremental_item(plan: _Plan, table: _Table, data_status: str) -> dict[str, Any]:
    status = {FINISHED: MIGRATING, FAILED: FAILED}.get(data_status, NOT_STARTED)
    item: dict[str, Any] = {
        "Status": status,
        "TableName": table.name,
        "SourceOwnerDBName": plan.source_db,
        "DestinationOwnerDBName": plan.dest_db,
    }
    if status == FAILED:
        item["ErrorMessage"] = _INCREMENTAL_ERROR
    return item


def demo_job_endpoints(job_id: str) -> tuple[str, str, str] | None:
    """(engine, source database, destination database) of a demo job, or None."""
    plan = _PLANS.get(job_id)
    return None if plan is None else (plan.engine, plan.source_db, plan.dest_db)


def demo_job_body(job_id: str, elapsed: float) -> dict[str, Any] | None:
    """The full (unpaged) DescribeInitializationStatus body of a demo job, or None."""
    plan = _PLANS.get(job_id)
    return None if plan is None else _job_body(plan, max(elapsed, 0.0))
