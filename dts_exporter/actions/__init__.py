"""One module per DTS action, and the registry the collector walks.

Each module holds its request and paging, the parsing of its answer into typed records,
its metric declarations and the function that turns its records into families, and ends
with an `Action` describing itself: `initialization` (DescribeInitializationStatus, with
`tables`, its per-table series), `modify_status` (DescribeSynchronizationObjectModifyStatus),
`check_jobs` (DescribeCheckJobs), `dts_jobs` (DescribeDtsJobs: discovery, and every job's
state, 30 jobs per call) and `dts_job_detail` (DescribeDtsJobDetail: the state of a job
the list leaves out); `job_state` is the state both of those read. Adding an action is one
module here, one line below, its test module and its README rows.
"""

from __future__ import annotations

from typing import Any

from dts_exporter.actions import (
    check_jobs,
    dts_job_detail,
    dts_jobs,
    initialization,
    modify_status,
)
from dts_exporter.actions.spec import Action

# Called once per id: job-level ones for every job, task-level ones for every modify task.
PER_ID: tuple[Action[Any], ...] = (initialization.ACTION, modify_status.ACTION, check_jobs.ACTION)
# A job's own state: asked for 30 jobs at a time, the detail for a job the list leaves out.
JOB_STATE: tuple[Action[Any], ...] = (dts_jobs.ACTION, dts_job_detail.ACTION)
ALL: tuple[Action[Any], ...] = (*PER_ID, *JOB_STATE)
NAMES = tuple(action.name for action in ALL)
BY_NAME = {action.name: action for action in ALL}
