"""The built-in demo's modify tasks: DescribeSynchronizationObjectModifyStatus over time.

What each task does and when is data, in `data/demo_tasks.yaml` (one entry per TaskId, its
`kind` naming one of the classes below); like the jobs, every body is a pure function of
the seconds elapsed since the simulator started.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dts_exporter.simulator.demo import (
    FAILED,
    FINISHED,
    MIGRATING,
    NOT_STARTED,
    load_data,
    progress_curve,
)

_DATA: dict[str, Any] = load_data("demo_tasks.yaml")
PRECHECK_ITEMS: tuple[str, ...] = tuple(_DATA["precheck_items"])


def wandering_delay(elapsed: float) -> int:
    """Incremental delay in seconds: smooth, deterministic, always within 0-120."""
    value = (
        60.0
        + 32.0 * math.sin(2 * math.pi * elapsed / 1800.0)
        + 18.0 * math.sin(2 * math.pi * elapsed / 420.0 + 1.3)
        + 9.0 * math.sin(2 * math.pi * elapsed / 95.0 + 0.4)
    )
    return round(min(max(value, 0.0), 120.0))


def _stage(status: str, percent: float, progress: int) -> dict[str, Any]:
    return {"Status": status, "Progress": str(progress), "Percent": str(int(percent))}


def _sync(status: str, delay: int, percent: int) -> dict[str, Any]:
    return {"Status": status, "Delay": str(delay), "Percent": str(percent)}


def _idle_stage() -> dict[str, Any]:
    return _stage(NOT_STARTED, 0, 0)


def _idle_sync() -> dict[str, Any]:
    return _sync(NOT_STARTED, 0, 0)


def _precheck(status: str, percent: float, items: int) -> dict[str, Any]:
    detail = [{"CheckStatus": "Success", "ItemName": name} for name in PRECHECK_ITEMS[:items]]
    return {"Status": status, "Percent": str(int(percent)), "Detail": detail}


def _passed_precheck() -> dict[str, Any]:
    return _precheck(FINISHED, 100, len(PRECHECK_ITEMS))


def _task_body(
    status: str,
    precheck: dict[str, Any],
    structure: dict[str, Any],
    data: dict[str, Any],
    sync: dict[str, Any],
    error: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Status": status, "PrecheckStatus": precheck}
    if error:
        body["ErrorMessage"] = error
    body.update(
        {
            "DataInitializationStatus": data,
            "DataSynchronizationStatus": sync,
            "RequestId": "",
            "Success": True,
            "StructureInitializationStatus": structure,
        }
    )
    return body


@dataclass(frozen=True)
class _Walking:
    """Prechecking, then schema and full data, catching up, Finished at `finished`."""

    precheck_end: float
    structure_end: float
    data_end: float
    finished: float
    tables: int
    rows: int
    catch_up_delay: int

    def body(self, elapsed: float) -> dict[str, Any]:
        if elapsed < self.precheck_end:
            fraction = elapsed / self.precheck_end
            items = int(len(PRECHECK_ITEMS) * fraction)
            return _task_body(
                "Prechecking",
                _precheck(MIGRATING, 100 * fraction, items),
                _idle_stage(),
                _idle_stage(),
                _idle_sync(),
            )
        precheck = _passed_precheck()
        if elapsed < self.structure_end:
            fraction = (elapsed - self.precheck_end) / (self.structure_end - self.precheck_end)
            structure = _stage(MIGRATING, 100 * fraction, int(self.tables * fraction))
            return _task_body(MIGRATING, precheck, structure, _idle_stage(), _idle_sync())
        structure = _stage(FINISHED, 100, self.tables)
        if elapsed < self.data_end:
            fraction = progress_curve(
                (elapsed - self.structure_end) / (self.data_end - self.structure_end)
            )
            data = _stage(MIGRATING, 100 * fraction, int(self.rows * fraction))
            return _task_body(MIGRATING, precheck, structure, data, _idle_sync())
        data = _stage(FINISHED, 100, self.rows)
        if elapsed < self.finished:
            delay = int(
                self.catch_up_delay * (self.finished - elapsed) / (self.finished - self.data_end)
            )
            return _task_body(MIGRATING, precheck, structure, data, _sync(MIGRATING, delay, 100))
        return _task_body(FINISHED, precheck, structure, data, _sync(FINISHED, 0, 100))


@dataclass(frozen=True)
class _PrecheckFailed:
    """The precheck fails with `failed_check` as its first item; nothing else starts."""

    failed_check: Mapping[str, str]

    def body(self, elapsed: float) -> dict[str, Any]:
        precheck = _precheck(FAILED, 100, len(PRECHECK_ITEMS))
        precheck["Detail"][0] = dict(self.failed_check)
        return _task_body("PrecheckFailed", precheck, _idle_stage(), _idle_stage(), _idle_sync())


@dataclass(frozen=True)
class _Failing:
    """Full data reaches `reached` of `rows` at `fails_at`, then fails for good."""

    fails_at: float
    reached: float
    tables: int
    rows: int
    error: str

    def body(self, elapsed: float) -> dict[str, Any]:
        structure = _stage(FINISHED, 100, self.tables)
        fraction = self.reached * min(elapsed, self.fails_at) / self.fails_at
        rows = int(self.rows * fraction)
        if elapsed < self.fails_at:
            data = _stage(MIGRATING, 100 * fraction, rows)
            return _task_body(MIGRATING, _passed_precheck(), structure, data, _idle_sync())
        data = _stage(FAILED, 100 * fraction, rows)
        data["ErrorMessage"] = self.error
        return _task_body(FAILED, _passed_precheck(), structure, data, _idle_sync(), self.error)


@dataclass(frozen=True)
class _Synchronizing:
    """Schema and full data done; incremental synchronization runs for hours."""

    tables: int
    rows: int

    def body(self, elapsed: float) -> dict[str, Any]:
        return _task_body(
            MIGRATING,
            _passed_precheck(),
            _stage(FINISHED, 100, self.tables),
            _stage(FINISHED, 100, self.rows),
            _sync(MIGRATING, wandering_delay(elapsed), 100),
        )


_Task = _Walking | _PrecheckFailed | _Failing | _Synchronizing
_KINDS: dict[str, type[_Task]] = {
    "walking": _Walking,
    "precheck_failed": _PrecheckFailed,
    "failing": _Failing,
    "synchronizing": _Synchronizing,
}


def _task(spec: Mapping[str, Any]) -> _Task:
    fields = dict(spec)
    return _KINDS[fields.pop("kind")](**fields)


_TASKS: dict[str, _Task] = {task_id: _task(spec) for task_id, spec in _DATA["tasks"].items()}


def demo_task_body(task_id: str, elapsed: float) -> dict[str, Any] | None:
    """The DescribeSynchronizationObjectModifyStatus body of a demo task, or None."""
    task = _TASKS.get(task_id)
    return None if task is None else task.body(max(elapsed, 0.0))
