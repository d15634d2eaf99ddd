"""One module per DTS action, and the registry the collector walks.

Each per-id module (`initialization`, `modify_status`) holds its request and paging, the
parsing of its answer into typed records, its metric declarations and the function that
turns its records into families, and ends with an `Action` describing itself. `dts_jobs`
lists a region's jobs for discovery. Adding an action is one module here, one line below,
its test module and its README rows.
"""

from __future__ import annotations

from typing import Any

from dts_exporter.actions import initialization, modify_status
from dts_exporter.actions.spec import Action

# Walked in this order: job-level actions for every job, then task-level ones per task.
PER_ID: tuple[Action[Any], ...] = (initialization.ACTION, modify_status.ACTION)
JOB_ACTIONS = tuple(action for action in PER_ID if action.scope == "job")
TASK_ACTIONS = tuple(action for action in PER_ID if action.scope == "task")
NAMES = tuple(action.name for action in PER_ID)
