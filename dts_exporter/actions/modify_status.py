"""DescribeSynchronizationObjectModifyStatus: a modify task's status, stages and prechecks.

Called once per configured modify task; one page, no paging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.actions.spec import Action
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS
from dts_exporter.base.errors import describe_kind
from dts_exporter.base.families import Builder, Metric, Options
from dts_exporter.base.fields import Fields, dedupe, entries, error_code, keep_later, struct, unwrap
from dts_exporter.base.records import Target
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import ONE_AT_A_TIME, Paging

NAME = DESCRIBE_MODIFY_STATUS

# Documented values; others are kept as they come.
TASK_STATUSES = ("NotStarted", "Prechecking", "PrecheckFailed", "Migrating", "Failed", "Finished")
STAGE_STATUSES = ("NotStarted", "Migrating", "Failed", "Finished")
PRECHECK_CHECK_STATUSES = ("Success", "Failed")
# The stages of a modify task, in order: the label value (also the record's attribute)
# and the field of the answer.
STAGES = (
    ("precheck", "PrecheckStatus"),
    ("structure_initialization", "StructureInitializationStatus"),
    ("data_initialization", "DataInitializationStatus"),
    ("data_synchronization", "DataSynchronizationStatus"),
)


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

    def stages(self) -> tuple[tuple[str, Stage | None], ...]:
        return tuple((name, getattr(self, name)) for name, _ in STAGES)


def request(
    client: DtsClient, task_id: str, *, region: str | None = None, deadline: float | None = None
) -> dict[str, Any]:
    params = {"TaskId": task_id, "RegionId": region or client.region}
    return client.call(NAME, params, region=region, deadline=deadline)


def fetch(
    client: DtsClient, target: Target, deadline: float | None, paging: Paging = ONE_AT_A_TIME
) -> ModifyStatus:
    """One task's status (one answer, no pages: `paging` is not used)."""
    return parse(request(client, target.task_id, region=target.region, deadline=deadline))


def parse(body: Mapping[str, Any]) -> ModifyStatus:
    problems: list[str] = []
    top = Fields(body, "", problems)
    status_text = top.text("Status")
    raw = {field: struct(body, field, problems) for _, field in STAGES}
    items: list[PrecheckItem] = []
    precheck = raw["PrecheckStatus"]
    if precheck is not None:
        detail = unwrap(precheck.get("Detail"))
        if isinstance(detail, Mapping):  # a single check item, not in a list
            detail = [detail]
        if isinstance(detail, list):
            for i, entry in entries(detail, "PrecheckStatus.Detail", problems):
                f = Fields(entry, f"PrecheckStatus.Detail[{i}]", problems)
                items.append(
                    PrecheckItem(
                        name=f.text("ItemName") or "Unknown", check_status=f.status("CheckStatus")
                    )
                )
        elif detail not in (None, ""):
            problems.append(f"PrecheckStatus.Detail: {describe_kind(detail)} is not a list")
    items, _ = dedupe(items, lambda item: item.name, keep_later)
    stages = {name: _stage(raw[field], field, problems) for name, field in STAGES}
    return ModifyStatus(
        status=(top.status("Status") if status_text else None),
        error_message=top.text("ErrorMessage"),
        precheck=stages["precheck"],
        precheck_items=tuple(items),
        structure_initialization=stages["structure_initialization"],
        data_initialization=stages["data_initialization"],
        data_synchronization=stages["data_synchronization"],
        problems=tuple(problems),
    )


# What each stage's object carries beyond Status and Percent (the response model).
_STAGE_FIELDS = {
    "PrecheckStatus": (),  # its errors are per check item (Detail[])
    "StructureInitializationStatus": ("Progress", "ErrorMessage"),
    "DataInitializationStatus": ("Progress", "ErrorMessage"),
    "DataSynchronizationStatus": ("Delay", "ErrorMessage"),
}


def _stage(raw: Mapping[str, Any] | None, where: str, problems: list[str]) -> Stage | None:
    if raw is None:
        return None
    f = Fields(raw, where, problems)
    has = _STAGE_FIELDS[where]
    return Stage(
        status=f.status("Status") if f.text("Status") else None,
        percent=f.number("Percent"),
        progress=f.number("Progress") if "Progress" in has else None,
        delay_seconds=f.number("Delay") if "Delay" in has else None,
        error_message=f.text("ErrorMessage") if "ErrorMessage" in has else "",
    )


# -- metrics ------------------------------------------------------------------------------

TASK = ("job_id", "task_id")

TASK_STATUS = Metric(
    "dts_modify_task_status",
    "1 for the modify task's current Status, 0 for each other documented value.",
    (*TASK, "status"),
)
STAGE_STATUS = Metric(
    "dts_modify_stage_status",
    "1 for a stage's current status, 0 for the other documented stage statuses.",
    (*TASK, "stage", "status"),
)
STAGE_PROGRESS = Metric(
    "dts_modify_stage_progress_ratio",
    "A stage's progress, 0 to 1 (Percent / 100).",
    (*TASK, "stage"),
)
STAGE_ERROR = Metric(
    "dts_modify_stage_error",
    "1 for a stage (or stage=task, the task itself) reporting an error; code as for tables.",
    (*TASK, "stage", "code"),
)
STRUCTURE_PROGRESS = Metric(
    "dts_modify_structure_initialization_tables",
    "Tables whose schema the modify task has synchronized "
    "(StructureInitializationStatus.Progress).",
    TASK,
)
DATA_PROGRESS = Metric(
    "dts_modify_data_initialization_rows",
    "Rows the modify task has copied during data initialization "
    "(DataInitializationStatus.Progress).",
    TASK,
)
DELAY = Metric(
    "dts_modify_data_synchronization_delay_seconds",
    "Incremental synchronization delay of the modify task (DataSynchronizationStatus.Delay).",
    TASK,
)
PRECHECK_ITEM = Metric(
    "dts_modify_precheck_item_success",
    "1 when the precheck item's CheckStatus is Success, else 0.",
    (*TASK, "item"),
)
PRECHECK_ITEMS = Metric(
    "dts_modify_precheck_items",
    "Precheck items per CheckStatus (Success and Failed always present).",
    (*TASK, "check_status"),
)

METRICS = (
    TASK_STATUS,
    STAGE_STATUS,
    STAGE_PROGRESS,
    STAGE_ERROR,
    STRUCTURE_PROGRESS,
    DATA_PROGRESS,
    DELAY,
    PRECHECK_ITEM,
    PRECHECK_ITEMS,
)


def families(b: Builder, target: Target, status: ModifyStatus, options: Options) -> None:
    ids = (target.job_id, target.task_id)
    if status.status is not None:
        b.state_set(TASK_STATUS, ids, status.status, TASK_STATUSES)
    if status.error_message:
        b.add(STAGE_ERROR, (*ids, "task", error_code(status.error_message)), 1.0)
    for name, stage in status.stages():
        if stage is None:
            continue
        if stage.status is not None:
            b.state_set(STAGE_STATUS, (*ids, name), stage.status, STAGE_STATUSES)
        percent = None if stage.percent is None else stage.percent / 100
        b.add(STAGE_PROGRESS, (*ids, name), percent)
        if stage.error_message:
            b.add(STAGE_ERROR, (*ids, name, error_code(stage.error_message)), 1.0)

    if status.structure_initialization is not None:
        b.add(STRUCTURE_PROGRESS, ids, status.structure_initialization.progress)
    if status.data_initialization is not None:
        b.add(DATA_PROGRESS, ids, status.data_initialization.progress)
    if status.data_synchronization is not None:
        b.add(DELAY, ids, status.data_synchronization.delay_seconds)

    for item in status.precheck_items:
        b.add(PRECHECK_ITEM, (*ids, item.name), float(item.check_status == "Success"))
    if status.precheck is not None or status.precheck_items:
        checks = (item.check_status for item in status.precheck_items)
        b.counts(PRECHECK_ITEMS, ids, checks, PRECHECK_CHECK_STATUSES)


def settled(status: ModifyStatus) -> bool:
    return status.status in ("Finished", "Failed")


def summary(status: ModifyStatus) -> str:
    return f"status {status.status or 'absent'}, {len(status.precheck_items)} precheck items"


ACTION = Action(
    name=NAME,
    scope="task",
    metrics=METRICS,
    fetch=fetch,
    settled=settled,
    families=families,
    summary=summary,
)
