"""`dts-exporter check`: call each action once per configured id and print a table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import Config, DiscoveryConfig
from dts_exporter.discovery import Discovery
from dts_exporter.parsing import parse_initialization_status, parse_modify_status
from dts_exporter.wire.client import (
    DESCRIBE_DTS_JOBS,
    DESCRIBE_INITIALIZATION_STATUS,
    DESCRIBE_MODIFY_STATUS,
    DtsClient,
)


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
            rows.append(
                _check(region, DESCRIBE_DTS_JOBS, partial(_discover, config, client, region))
            )
    for job in config.jobs:
        rows.append(_check(job.id, DESCRIBE_INITIALIZATION_STATUS, partial(_job, client, job.id)))
        for task in job.modify_tasks:
            rows.append(_check(task, DESCRIBE_MODIFY_STATUS, partial(_task, client, task)))
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


def _job(client: DtsClient, job_id: str) -> str:
    started = time.monotonic()
    body = client.describe_initialization_status(job_id)
    status = parse_initialization_status(body)
    sync = "absent" if status.synchronization is None else str(len(status.synchronization))
    return (
        f"{len(status.tables)} tables, {len(status.structure)} schema objects, "
        f"{sync} sync details, {body.get('PageCount', 1)} page(s) "
        f"in {time.monotonic() - started:.2f}s"
    )


def _task(client: DtsClient, task_id: str) -> str:
    status = parse_modify_status(client.describe_modify_status(task_id))
    return f"status {status.status or 'absent'}, {len(status.precheck_items)} precheck items"


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
