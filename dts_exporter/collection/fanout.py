"""One collection: every action for every selected id, concurrently, within the deadline.

It reads as it runs: targets -> reuse a settled result or submit a call -> wait until the
deadline -> record history -> log transitions -> snapshot. `run()` never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from dts_exporter import actions
from dts_exporter.actions.spec import Action
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Result, Target
from dts_exporter.collection.history import History
from dts_exporter.collection.statelog import StateLog
from dts_exporter.collection.targets import Selection, Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot
from dts_exporter.wire.client import DtsClient

log = logging.getLogger("dts_exporter.collection")

Call = tuple[Action[Any], Target]


class Collection:
    """Runs one collection of every monitored id; owns the bounded worker pool."""

    def __init__(
        self,
        config: Config,
        client: DtsClient,
        stats: ApiStats,
        targets: Targets,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client
        self._stats = stats
        self._targets = targets
        self._clock = clock
        self._wall = wall_clock
        self.history = History(
            settled_refresh_seconds=config.settled_refresh_seconds,
            stale_seconds=config.stale_seconds,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.log = StateLog()
        self._pool = ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="dts-api"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def run(
        self, timeout: float | None = None, jobs: Sequence[JobConfig] | None = None
    ) -> Snapshot:
        """Collect every id (or just `jobs`, for a probe) within `timeout`, capped by
        scrape_timeout_seconds. Settled ids are re-checked only every
        settled_refresh_seconds; their last values are reused in between."""
        started = self._clock()
        budget = self._config.scrape_timeout_seconds
        if timeout is not None:
            budget = min(budget, timeout)
        deadline = started + budget
        # Calls stop a little before the collection gives up on them, so that a late call
        # ends as a counted Timeout within this scrape rather than after it.
        call_deadline = deadline - min(0.25, 0.1 * budget)
        probe = jobs is not None
        selection = (
            Selection(tuple(jobs)) if jobs is not None else self._targets.select(call_deadline)
        )

        calls = _calls(selection.jobs)
        reused: list[Result[Any] | None] = [self.history.reusable(_key(c)) for c in calls]
        futures: list[Future[Result[Any]] | None] = [
            None
            if old is not None
            else self._pool.submit(self._fetch, action, target, call_deadline)
            for old, (action, target) in zip(reused, calls, strict=True)
        ]
        pending = [f for f in futures if f is not None]
        _, not_done = wait(pending, timeout=max(0.0, deadline - self._clock()))
        for straggler in not_done:
            straggler.cancel()  # still queued: no point calling the API after the scrape

        late = DtsApiError(errors.TIMEOUT, f"not done within the scrape's {budget:g}s")
        results: list[Result[Any]] = []
        for (action, target), old, future in zip(calls, reused, futures, strict=True):
            if old is not None:
                result = self.history.record(old, settled=True, reused=True)
            elif future is not None and future.done() and not future.cancelled():
                fresh = future.result()
                settled = fresh.record is not None and action.settled(fresh.record)
                result = self.history.record(fresh, settled=settled, reused=False)
            else:
                result = self.history.record(
                    Result(action.name, target, None, late), settled=False, reused=False
                )
            results.append(result)

        keys = [r.key for r in results]
        if probe:
            self.history.probed(keys)
        else:
            self.history.monitor(keys)
        self.log.keep_only(self.history.kept())
        for result in results:
            self.log.result(result.key, result.error)
        return Snapshot(
            region=self._config.region,
            jobs=selection.jobs,
            results=tuple(results),
            duration_seconds=self._clock() - started,
            discovered=selection.discovered,
            discovery=selection.discovery,
            calls_saved=sum(old is not None for old in reused),
        )

    def _fetch(self, action: Action[Any], target: Target, deadline: float) -> Result[Any]:
        """One action for one id, in a worker thread: a result, never an exception."""
        try:
            record = action.fetch(self._client, target, deadline)
        except DtsApiError as exc:
            exc.action = action.name
            return Result(action.name, target, None, exc)
        except Exception as exc:  # the scrape boundary: report, never propagate
            log.exception(
                "unexpected failure action=%s job_id=%s task_id=%s",
                action.name,
                target.job_id,
                target.task_id,
            )
            error = DtsApiError(errors.UNKNOWN_ERROR, repr(exc), action=action.name)
            return Result(action.name, target, None, error)
        key = (action.name, target.job_id, target.task_id)
        if record.problems:
            self._stats.add_problems(action.name, len(record.problems))
        self.log.notes(key, "unusable fields skipped", record.problems)
        for kind, notes in action.notes(record):
            self.log.notes(key, kind, notes)
        return Result(action.name, target, record, None, self._wall())


def _calls(jobs: Sequence[JobConfig]) -> list[Call]:
    """Job-level actions for every job, then task-level ones for every task."""
    calls: list[Call] = []
    for job in jobs:
        target = Target(job.id, region=job.region)
        calls.extend((action, target) for action in actions.JOB_ACTIONS)
    for job in jobs:
        for task_id in job.modify_tasks:
            target = Target(job.id, task_id, job.region)
            calls.extend((action, target) for action in actions.TASK_ACTIONS)
    return calls


def _key(call: Call) -> tuple[str, str, str]:
    action, target = call
    return (action.name, target.job_id, target.task_id)
