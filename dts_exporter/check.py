"""`dts-exporter check`: call each action once per configured id and print a table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from dts_exporter import actions
from dts_exporter.actions import dts_jobs
from dts_exporter.actions.spec import Action
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Target
from dts_exporter.collection.discovery import Discovery
from dts_exporter.config import Config, DiscoveryConfig
from dts_exporter.wire.client import DtsClient


@dataclass(frozen=True)
class CheckRow:
    id: str
    action: str
    ok: bool
    code: str
    message: str


def run_checks(config: Config, client: DtsClient) -> list[CheckRow]:
    rows: list[CheckRow] = []
    if config.discovery.enabled:
        for region in config.discovery.regions:
            rows.append(_check(region, dts_jobs.NAME, partial(_discover, config, client, region)))
    for job in config.jobs:
        calls = [(action, Target(job.id, region=job.region)) for action in actions.JOB_ACTIONS]
        for task in job.modify_tasks:
            target = Target(job.id, task, job.region)
            calls.extend((action, target) for action in actions.TASK_ACTIONS)
        for action, target in calls:
            shown = target.task_id or target.job_id
            rows.append(_check(shown, action.name, partial(_call, client, action, target)))
    return rows


def _check(id_: str, action: str, fn: Callable[[], str]) -> CheckRow:
    try:
        return CheckRow(id_, action, True, "Success", fn())
    except DtsApiError as exc:
        return CheckRow(id_, action, False, exc.code, exc.message)


def _discover(config: Config, client: DtsClient, region: str) -> str:
    only = DiscoveryConfig(True, (region,), config.discovery.name_pattern)
    (state,) = Discovery(only, client, raise_errors=True).regions()
    names = ", ".join(sorted(job.job_id for job in state.jobs)[:5])
    return f"{len(state.jobs)} synchronization job(s) match: {names}"


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
