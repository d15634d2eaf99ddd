"""`dts-exporter check`: call each action once per monitored id and print a table.

Discovered jobs are checked too, the first DISCOVERED_CHECKED of each region, so that a
discovery-only config tests the permissions that matter; a note says how many were left.
A config that would monitor nothing says why, and fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from dts_exporter import actions
from dts_exporter.actions import check_jobs, dts_jobs
from dts_exporter.actions.spec import Action
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Target
from dts_exporter.collection.discovery import Discovery, RegionState
from dts_exporter.config import Config, JobConfig
from dts_exporter.wire.client import DtsClient

DISCOVERED_CHECKED = 3  # discovered jobs checked per region


@dataclass(frozen=True)
class CheckRow:
    id: str
    action: str
    ok: bool
    code: str
    message: str


@dataclass
class Report:
    rows: list[CheckRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said before the counts
    monitors_nothing: bool = False

    @property
    def failed(self) -> int:
        return sum(not row.ok for row in self.rows)


def run_checks(config: Config, client: DtsClient) -> Report:
    report = Report()
    jobs = list(config.jobs)
    if config.discovery.enabled:
        regions: list[RegionState] = []
        for region in config.discovery.regions:
            only = replace(config.discovery, regions=(region,))
            row, state = _discover(Discovery(only, client, raise_errors=True), region)
            report.rows.append(row)
            if state is not None:
                regions.append(state)
                jobs.extend(_discovered(config, state, report))
        if not jobs and len(regions) == len(config.discovery.regions):
            why = Discovery(config.discovery, client).why_nothing(regions)
            report.notes.append(f"monitors nothing: {why}")
            report.monitors_nothing = True
    for job in jobs:
        job_target = Target(job.id, region=job.region)
        calls = [(action, job_target) for action in _job_actions(config)]
        for task in job.modify_tasks:
            target = Target(job.id, task, job.region)
            calls.extend((action, target) for action in actions.PER_ID if action.scope == "task")
        for action, target in calls:
            shown = target.task_id or target.job_id
            report.rows.append(_check(shown, action.name, partial(_call, client, action, target)))
    return report


def _discover(discovery: Discovery, region: str) -> tuple[CheckRow, RegionState | None]:
    found: list[RegionState] = []

    def listing() -> str:
        (state,) = discovery.regions()
        found.append(state)
        names = ", ".join(sorted(job.job_id for job in state.jobs)[:5])
        return f"{len(state.jobs)} synchronization job(s) match: {names}"

    row = _check(region, dts_jobs.NAME, listing)
    return row, (found[0] if found else None)


def _discovered(config: Config, state: RegionState, report: Report) -> list[JobConfig]:
    known = {job.id for job in config.jobs}
    new = [job for job in state.jobs if job.job_id not in known]
    if len(new) > DISCOVERED_CHECKED:
        report.notes.append(
            f"checked the first {DISCOVERED_CHECKED} of {len(new)} discovered job(s) in "
            f"{state.region}; the others are called the same way"
        )
    return [
        JobConfig(id=job.job_id, name=job.name, region=state.region)
        for job in new[:DISCOVERED_CHECKED]
    ]


def _job_actions(config: Config) -> list[Action[Any]]:
    """What a collection calls per job: the job-level actions that are on."""
    chosen = [a for a in actions.PER_ID if a.scope == "job" and a is not check_jobs.ACTION]
    if config.job_status.enabled:
        chosen.append(dts_jobs.ACTION)
    if config.verification.enabled:
        chosen.append(check_jobs.ACTION)
    return chosen


def _check(id_: str, action: str, fn: Callable[[], str]) -> CheckRow:
    try:
        return CheckRow(id_, action, True, "Success", fn())
    except DtsApiError as exc:
        return CheckRow(id_, action, False, exc.code, exc.message)


def _call(client: DtsClient, action: Action[Any], target: Target) -> str:
    started = time.monotonic()
    record = action.fetch(client, target, None)
    return f"{action.summary(record)} in {time.monotonic() - started:.2f}s"


def format_table(rows: list[CheckRow]) -> str:
    header = ("ID", "ACTION", "RESULT", "CODE", "MESSAGE")
    cells = [
        (r.id, r.action, "ok" if r.ok else "FAILED", r.code, " ".join(r.message.split())[:160])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (header, *cells)) for i in range(4)]
    lines = []
    for row in (header, *cells):
        lines.append(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        )
    return "\n".join(line.rstrip() for line in lines)
