"""One collection: every action for every selected id, concurrently, within the deadline.

It reads as it runs: targets -> reuse a result that is not due or submit a call -> wait
until the deadline -> record history -> log transitions -> snapshot. The jobs' own state
is asked 30 jobs per call per region (`jobstate`); the rest once per id. `run()` never
raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from typing import Any

from dts_exporter import actions
from dts_exporter.actions import check_jobs, dts_job_detail, dts_jobs
from dts_exporter.actions.spec import Action
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import quote
from dts_exporter.base.records import Result, Target
from dts_exporter.collection.history import History
from dts_exporter.collection.jobstate import JobStateCalls
from dts_exporter.collection.statelog import StateLog
from dts_exporter.collection.targets import Selection, Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.paging import Paging, Workers

log = logging.getLogger("dts_exporter.collection")

Call = tuple[Action[Any], Target]
Key = tuple[str, str, str]
STILL_RUNNING = "the previous collection's call for this id is still running; not called again"


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
        self._pool = Workers(config.concurrency, thread_name_prefix="dts-api")
        # How often each action is due; 0: on every collection.
        self._intervals = {
            check_jobs.NAME: config.verification.refresh_seconds,
            dts_jobs.NAME: config.job_status.refresh_seconds,
            dts_job_detail.NAME: config.job_status.refresh_seconds,
        }
        self._job_actions = tuple(
            a
            for a in actions.PER_ID
            if a.scope == "job" and (a.name != check_jobs.NAME or config.verification.enabled)
        )
        self._task_actions = tuple(a for a in actions.PER_ID if a.scope == "task")
        # Calls a collection gave up on that were still running when it ended: a stuck
        # worker. Until it returns, its id is not called again (a second copy would stick
        # the same way and take another worker).
        self._abandoned: dict[Key, Future[Result[Any]]] = {}
        self._abandoned_lock = threading.Lock()
        self._logged_stuck: set[Key] = set()

    @property
    def client(self) -> DtsClient:
        return self._client

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def run(
        self, timeout: float | None = None, jobs: Sequence[JobConfig] | None = None
    ) -> Snapshot:
        """Collect every id (or just `jobs`, for a probe) within `timeout`, capped by
        scrape_timeout_seconds. Ids not due (settled, or on a slower cadence) keep their
        last values until they are."""
        started = self._clock()
        budget = self._config.scrape_timeout_seconds
        if timeout is not None:
            budget = min(budget, timeout)
        deadline = started + budget
        # Calls stop a little before the collection gives up on them, so that a late call
        # ends as a counted Timeout within this scrape rather than after it.
        call_deadline = deadline - min(0.25, 0.1 * budget)
        probe = jobs is not None
        if jobs is not None:
            selection = Selection(tuple(jobs))
        else:
            selection = self._targets.select(call_deadline)

        states = self._job_states(selection.jobs, call_deadline)
        calls = self._calls(selection.jobs)
        reused = [self._reusable(action, target) for action, target in calls]
        stuck = self._still_running({_key(*call) for call in calls})
        futures: list[Future[Result[Any]] | None] = [
            None
            if old is not None or _key(*call) in stuck
            else self._pool.submit(self._fetch, *call, call_deadline)
            for old, call in zip(reused, calls, strict=True)
        ]
        states.follow_up(deadline)
        pending = [f for f in futures if f is not None] + states.pending()
        _, not_done = wait(pending, timeout=max(0.0, deadline - self._clock()))
        for straggler in not_done:
            straggler.cancel()  # still queued: no point calling the API after the scrape
        self._abandon(calls, futures)

        late = DtsApiError(errors.TIMEOUT, f"not done within the scrape's {budget:g}s")
        results: list[Result[Any]] = []
        saved = 0
        for (action, target), old, future in zip(calls, reused, futures, strict=True):
            if old is not None:
                result = self.history.record(old, settled=True, reused=True)
                saved += bool(old.record is not None and action.settled(old.record))
            elif _key(action, target) in stuck:
                result = self.history.record(
                    Result(action.name, target, None, stuck[_key(action, target)]),
                    settled=False,
                    reused=False,
                )
            elif future is not None and future.done() and not future.cancelled():
                fresh = future.result()
                settled = fresh.record is not None and action.settled(fresh.record)
                result = self.history.record(fresh, settled=settled, reused=False)
            else:
                result = self.history.record(
                    Result(action.name, target, None, late), settled=False, reused=False
                )
            results.append(result)
        for state, was_reused in states.results(late):
            results.append(self.history.record(state, settled=False, reused=was_reused))
        for result in results:
            if result.error is not None:
                _bare(result.error)
        results = _in_order(results, selection.jobs)

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
            discovery=selection.discovery,
            calls_saved=saved,
        )

    def _still_running(self, wanted: set[Key]) -> dict[Key, DtsApiError]:
        """The abandoned calls still running, each with the error its id reads meanwhile;
        each is logged once and counted every time it is not called again."""
        with self._abandoned_lock:
            self._abandoned = {k: f for k, f in self._abandoned.items() if not f.done()}
            running = set(self._abandoned)
        keys = sorted(running & wanted)
        out: dict[Key, DtsApiError] = {}
        for key in keys:
            action, job_id, task_id = key
            self._stats.still_running(action)
            out[key] = DtsApiError(errors.TIMEOUT, STILL_RUNNING, action=action)
            if key not in self._logged_stuck:
                self._logged_stuck.add(key)
                log.warning(
                    "call still running from an earlier collection, not called again "
                    "action=%s job_id=%s task_id=%s error=Timeout",
                    action,
                    quote(job_id),
                    quote(task_id),
                )
        self._logged_stuck &= running
        return out

    def _abandon(self, calls: list[Call], futures: list[Future[Result[Any]] | None]) -> None:
        """Remember the calls this collection leaves running (cancel() could not stop them)."""
        with self._abandoned_lock:
            for call, future in zip(calls, futures, strict=True):
                if future is not None and not future.done():
                    self._abandoned[_key(*call)] = future

    def _calls(self, jobs: Sequence[JobConfig]) -> list[Call]:
        """Job-level actions for every job, then task-level ones for every task."""
        calls: list[Call] = []
        for job in jobs:
            target = Target(job.id, region=job.region)
            calls.extend((action, target) for action in self._job_actions)
        for job in jobs:
            for task_id in job.modify_tasks:
                target = Target(job.id, task_id, job.region)
                calls.extend((action, target) for action in self._task_actions)
        return calls

    def _reusable(self, action: Action[Any], target: Target) -> Result[Any] | None:
        key = (action.name, target.job_id, target.task_id)
        return self.history.reusable(key, self._intervals.get(action.name, 0.0))

    def _job_states(self, jobs: Sequence[JobConfig], deadline: float) -> JobStateCalls:
        """Submit the calls for the jobs' own state (none when job_status is off)."""
        wanted = jobs if self._config.job_status.enabled else ()
        states = JobStateCalls(
            self._pool,
            self._client,
            self._config.region,
            reuse=lambda target: (
                self._reusable(dts_jobs.ACTION, target)
                or self._reusable(dts_job_detail.ACTION, target)
            ),
            fetch=self._fetch,
            note=self.note,
            wall_clock=self._wall,
        )
        states.submit(wanted, deadline)
        return states

    def _fetch(self, action: Action[Any], target: Target, deadline: float) -> Result[Any]:
        """One action for one id, in a worker thread: a result, never an exception. The
        pages the id had last time are asked for at once, on this same pool (see `paging`)."""
        last = self.history.last_good((action.name, target.job_id, target.task_id))
        expected = 1 if last is None or last.record is None else action.pages(last.record)
        try:
            record = action.fetch(self._client, target, deadline, Paging(expected, self._pool))
        except DtsApiError as exc:
            exc.action = action.name
            return Result(action.name, target, None, _bare(exc))
        except Exception as exc:  # the scrape boundary: report, never propagate
            log.exception(
                "unexpected failure action=%s job_id=%s task_id=%s",
                action.name,
                target.job_id,
                target.task_id,
            )
            error = DtsApiError(errors.UNKNOWN_ERROR, repr(exc), action=action.name)
            return Result(action.name, target, None, error)
        self.note(action, target, record)
        return Result(action.name, target, record, None, self._wall())

    def note(self, action: Action[Any], target: Target, record: Any) -> None:
        """Count and log (on change) what an answer had that was unusable or worth a line."""
        key = (action.name, target.job_id, target.task_id)
        if record.problems:
            self._stats.add_problems(action.name, len(record.problems))
        self.log.notes(key, "unusable fields skipped", record.problems)
        for kind, notes in action.notes(record):
            self.log.notes(key, kind, notes)


def _in_order(results: list[Result[Any]], jobs: Sequence[JobConfig]) -> list[Result[Any]]:
    """Per job its job-level results, then every task's: the order of the exposition."""
    rank = {job.id: index for index, job in enumerate(jobs)}
    return sorted(
        results, key=lambda r: (bool(r.target.task_id), rank.get(r.target.job_id, len(rank)))
    )


def _key(action: Action[Any], target: Target) -> Key:
    return (action.name, target.job_id, target.task_id)


def _bare(error: DtsApiError) -> DtsApiError:
    """The error without its traceback and chained exceptions: kept in history, they would
    keep the frames of the failed call alive, and with them the body it was reading."""
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    return error
