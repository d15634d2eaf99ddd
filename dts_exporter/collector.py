"""Fetching: one collection calls both actions for every configured id, concurrently.

`Collection.run()` fans the calls out over a bounded pool, enforces the scrape deadline,
and returns a `Snapshot`; it never raises. `DtsCollector` is the prometheus-client
collector: concurrent scrapes share one in-flight collection (single flight), and
registering it makes no API call.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, Generic, TypeVar

from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from dts_exporter.api_stats import ApiStats
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import quote
from dts_exporter.config import Config, JobConfig
from dts_exporter.discovery import Discovery
from dts_exporter.exposition import (
    DEFAULT_OPTIONS,
    Options,
    build_families,
    describe_families,
)
from dts_exporter.parsing import (
    DiscoveredJob,
    InitializationStatus,
    ModifyStatus,
    parse_initialization_status,
    parse_modify_status,
)
from dts_exporter.snapshot import DiscoveryResult, JobResult, Snapshot, TaskResult
from dts_exporter.wire.client import (
    DESCRIBE_INITIALIZATION_STATUS,
    DESCRIBE_MODIFY_STATUS,
    DtsClient,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R", JobResult, TaskResult)

# The scrape timeout Prometheus announced for the scrape being served (seconds, already
# less the offset), set by the HTTP handler in the thread that runs collect().
requested_timeout: ContextVar[float | None] = ContextVar("requested_timeout", default=None)


class SingleFlight(Generic[T]):
    """Callers arriving while a call with the same key is in flight wait for and share its
    result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[Hashable, Future[T]] = {}

    def run(self, fn: Callable[[], T], key: Hashable = None) -> T:
        with self._lock:
            future = self._current.get(key)
            leader = future is None
            if future is None:
                future = self._current[key] = Future()
        if leader:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                with self._lock:
                    del self._current[key]
        return future.result()


class _Cache(Generic[T]):
    """The last result per key, served for `seconds` (0 turns it off)."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, T]] = {}

    def get(self, key: Hashable) -> T | None:
        if self.seconds <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.seconds:
            return None
        return entry[1]

    def put(self, key: Hashable, value: T) -> None:
        if self.seconds > 0:
            with self._lock:
                self._entries[key] = (self._clock(), value)
                if len(self._entries) > 10_000:  # probes for ids that come and go
                    oldest = min(self._entries, key=lambda k: self._entries[k][0])
                    del self._entries[oldest]


def shard_of(job_id: str, count: int) -> int:
    """A stable shard for a job id: the same on every replica and every run."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big") % count


def job_settled(status: InitializationStatus) -> bool:
    """Every table and schema object Finished: nothing left to move."""
    objects = [o for obj in status.structure for o in (obj, *obj.constraints)]
    return (
        bool(status.tables)
        and all(table.status == "Finished" for table in status.tables)
        and all(obj.status == "Finished" for obj in objects)
    )


def task_settled(status: ModifyStatus) -> bool:
    return status.status in ("Finished", "Failed")


class _StateLog:
    """Logs an id's failure once when it starts (or its code changes) and once on recovery,
    instead of on every scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str, str], str] = {}
        self._notes: dict[tuple[str, str, str], frozenset[str]] = {}

    def result(self, action: str, job_id: str, task_id: str, error: DtsApiError | None) -> None:
        key = (action, job_id, task_id)
        with self._lock:
            previous = self._codes.get(key)
            current = None if error is None else error.code
            if current is None:
                self._codes.pop(key, None)
            else:
                self._codes[key] = current
        if error is not None and current != previous:
            log.warning(
                "DTS call failed action=%s job_id=%s task_id=%s code=%s http_status=%s "
                "request_id=%s message=%s",
                action,
                job_id,
                task_id,
                error.code,
                error.http_status if error.http_status is not None else "",
                error.request_id,
                quote(error.message),
            )
        elif error is None and previous is not None:
            log.info(
                "DTS call recovered action=%s job_id=%s task_id=%s previous_code=%s",
                action,
                job_id,
                task_id,
                previous,
            )

    def notes(
        self, action: str, job_id: str, task_id: str, kind: str, notes: tuple[str, ...]
    ) -> None:
        key = (action, job_id, f"{task_id}/{kind}")
        current = frozenset(notes)
        with self._lock:
            changed = self._notes.get(key, frozenset()) != current
            self._notes[key] = current
        if notes and changed:
            log.warning(
                "%s action=%s job_id=%s task_id=%s count=%d first=%s",
                kind,
                action,
                job_id,
                task_id,
                len(notes),
                quote(notes[0]),
            )


class Collection:
    """Runs one collection of every configured id; owns the bounded worker pool."""

    def __init__(
        self,
        config: Config,
        client: DtsClient,
        stats: ApiStats,
        *,
        discovery: Discovery | None = None,
        shard: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client
        self._stats = stats
        self._discovery = discovery
        self._shard = shard
        self._clock = clock
        self._wall = wall_clock
        self._log = _StateLog()
        # The last good result per (job id, task id), for ids that have settled.
        self._settled: dict[tuple[str, str], tuple[float, JobResult | TaskResult]] = {}
        self._settled_lock = threading.Lock()
        # The last good result per id: its time, and its values for stale_seconds.
        self._good: dict[tuple[str, str], JobResult | TaskResult] = {}
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
        if jobs is None:
            selected, discovered, discovery = self._jobs(call_deadline)
        else:
            selected, discovered, discovery = list(jobs), (), ()
        saved = 0

        def submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
            nonlocal saved
            key = (args[0].id, args[1] if len(args) > 2 else "")
            reused = self._reusable(key)
            if reused is not None:
                saved += 1
                done: Future[Any] = Future()
                done.set_result(reused)
                return done
            return self._pool.submit(fn, *args)

        job_futures = [(job, submit(self._fetch_job, job, call_deadline)) for job in selected]
        task_futures = [
            (job, task_id, submit(self._fetch_task, job, task_id, call_deadline))
            for job in selected
            for task_id in job.modify_tasks
        ]
        everything: list[Future[Any]] = [f for _, f in job_futures]
        everything.extend(f for _, _, f in task_futures)
        _, not_done = wait(everything, timeout=max(0.0, deadline - self._clock()))
        for future in not_done:
            future.cancel()  # still queued: no point calling the API after the scrape

        late = DtsApiError(errors.TIMEOUT, f"not done within the scrape's {budget:g}s")
        job_results = tuple(
            future.result()
            if future.done() and not future.cancelled()
            else JobResult(job, None, late)
            for job, future in job_futures
        )
        tasks = tuple(
            future.result()
            if future.done() and not future.cancelled()
            else TaskResult(job.id, task_id, None, late)
            for job, task_id, future in task_futures
        )
        job_results = tuple(self._with_history((r.job.id, ""), r) for r in job_results)
        tasks = tuple(self._with_history((r.job_id, r.task_id), r) for r in tasks)
        if jobs is None:  # forget ids no longer monitored
            keep = {(r.job.id, "") for r in job_results} | {(r.job_id, r.task_id) for r in tasks}
            with self._settled_lock:
                self._good = {k: v for k, v in self._good.items() if k in keep}
        for job_result in job_results:
            self._log.result(
                DESCRIBE_INITIALIZATION_STATUS, job_result.job.id, "", job_result.error
            )
        for task_result in tasks:
            self._log.result(
                DESCRIBE_MODIFY_STATUS, task_result.job_id, task_result.task_id, task_result.error
            )
        return Snapshot(
            region=self._config.region,
            jobs=job_results,
            tasks=tasks,
            duration_seconds=self._clock() - started,
            discovered=discovered,
            discovery=discovery,
            calls_saved=saved,
        )

    def _with_history(self, key: tuple[str, str], result: R) -> R:
        """Record a success; give a failure the last success time, and with stale_seconds
        the last good values (dts_up still reads 0)."""
        with self._settled_lock:
            if result.error is None and result.status is not None:
                self._good[key] = result
                return replace(result, last_success=result.refreshed_at)
            good = self._good.get(key)
        if good is None or good.refreshed_at is None:
            return result
        stale = self._config.stale_seconds
        if stale > 0 and self._wall() - good.refreshed_at <= stale:
            return replace(
                result,
                status=good.status,  # type: ignore[arg-type]
                refreshed_at=good.refreshed_at,
                last_success=good.refreshed_at,
            )
        return replace(result, last_success=good.refreshed_at)

    def _reusable(self, key: tuple[str, str]) -> JobResult | TaskResult | None:
        with self._settled_lock:
            entry = self._settled.get(key)
        if entry is None or self._clock() - entry[0] >= self._config.settled_refresh_seconds:
            return None
        return entry[1]

    def _remember(
        self, key: tuple[str, str], result: JobResult | TaskResult, settled: bool
    ) -> None:
        with self._settled_lock:
            if settled:
                self._settled[key] = (self._clock(), result)
            else:
                self._settled.pop(key, None)

    def _in_shard(self, job_id: str) -> bool:
        return self._shard is None or shard_of(job_id, self._shard[1]) == self._shard[0]

    def _jobs(
        self, deadline: float
    ) -> tuple[list[JobConfig], tuple[DiscoveredJob, ...], tuple[DiscoveryResult, ...]]:
        """The configured jobs, then the discovered ones not configured by hand; only this
        replica's shard of them when sharded."""
        jobs = [job for job in self._config.jobs if self._in_shard(job.id)]
        if self._discovery is None:
            return jobs, (), ()
        regions = self._discovery.regions(deadline)
        known = {job.id for job in jobs}
        discovered: list[DiscoveredJob] = []
        for state in regions:
            for found in state.jobs:
                if not self._in_shard(found.job_id):
                    continue
                discovered.append(found)
                if found.job_id not in known:
                    known.add(found.job_id)
                    jobs.append(JobConfig(id=found.job_id, name=found.name, region=found.region))
        results = tuple(DiscoveryResult(s.region, len(s.jobs), s.last_success) for s in regions)
        return jobs, tuple(discovered), results

    def _fetch_job(self, job: JobConfig, deadline: float) -> JobResult:
        action = DESCRIBE_INITIALIZATION_STATUS
        try:
            body = self._client.describe_initialization_status(
                job.id, region=job.region, deadline=deadline
            )
            status = parse_initialization_status(body)
        except DtsApiError as exc:
            exc.action = action
            return JobResult(job, None, exc)
        except Exception as exc:  # the scrape boundary: report, never propagate
            log.exception("unexpected failure action=%s job_id=%s", action, job.id)
            return JobResult(job, None, DtsApiError(errors.UNKNOWN_ERROR, repr(exc), action=action))
        self._report_notes(action, job.id, "", status.problems)
        self._log.notes(
            action, job.id, "", "table listed more than once, merged", status.duplicates
        )
        result = JobResult(job, status, None, self._wall())
        self._remember((job.id, ""), result, job_settled(status))
        return result

    def _fetch_task(self, job: JobConfig, task_id: str, deadline: float) -> TaskResult:
        action = DESCRIBE_MODIFY_STATUS
        job_id = job.id
        try:
            body = self._client.describe_modify_status(
                task_id, region=job.region, deadline=deadline
            )
            status = parse_modify_status(body)
        except DtsApiError as exc:
            exc.action = action
            return TaskResult(job_id, task_id, None, exc)
        except Exception as exc:  # the scrape boundary: report, never propagate
            log.exception("unexpected failure action=%s task_id=%s", action, task_id)
            return TaskResult(
                job_id, task_id, None, DtsApiError(errors.UNKNOWN_ERROR, repr(exc), action=action)
            )
        self._report_notes(action, job_id, task_id, status.problems)
        result = TaskResult(job_id, task_id, status, None, self._wall())
        self._remember((job_id, task_id), result, task_settled(status))
        return result

    def _report_notes(
        self, action: str, job_id: str, task_id: str, problems: tuple[str, ...]
    ) -> None:
        if problems:
            self._stats.add_problems(action, len(problems))
        self._log.notes(action, job_id, task_id, "unusable fields skipped", problems)


class DtsCollector(Collector):
    """The prometheus-client collector: fresh families on every scrape.

    Concurrent scrapes share one collection; with `cache_seconds`, a scrape that follows a
    recent one (a second Prometheus, say) is served that collection without API calls.
    """

    def __init__(
        self,
        collection: Collection,
        stats: ApiStats,
        *,
        options: Options = DEFAULT_OPTIONS,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = collection
        self._stats = stats
        self._flight: SingleFlight[Snapshot] = SingleFlight()
        self._cache: _Cache[Snapshot] = _Cache(cache_seconds, clock)
        self._options = replace(options, note=cache_note(cache_seconds))

    def describe(self) -> Iterator[Family]:
        # Declared so that registering does not trigger a collection (and API calls).
        return describe_families()

    def collect(self) -> Iterator[Family]:
        timeout = requested_timeout.get()
        snapshot = self._cache.get(None)
        if snapshot is None:
            snapshot = self._flight.run(lambda: self._fresh(timeout))
        yield from build_families(snapshot, self._stats, self._options)

    def _fresh(self, timeout: float | None) -> Snapshot:
        snapshot = self._collection.run(timeout)
        self._cache.put(None, snapshot)
        return snapshot


class Prober:
    """`/probe?job_id=...`: one job (and its modify tasks) per request, blackbox-style, so
    Prometheus's own service discovery and hashmod sharding can spread jobs over replicas.
    Concurrent probes of the same target share one collection; `cache_seconds` applies."""

    def __init__(
        self,
        collection: Collection,
        config: Config,
        *,
        options: Options = DEFAULT_OPTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = collection
        self._configured = {job.id: job for job in config.jobs}
        self._flight: SingleFlight[Snapshot] = SingleFlight()
        self._cache: _Cache[Snapshot] = _Cache(config.cache_seconds, clock)
        self._options = replace(options, note=cache_note(config.cache_seconds))

    def families(
        self,
        job_id: str,
        task_ids: Sequence[str] = (),
        region: str | None = None,
        timeout: float | None = None,
    ) -> list[Family]:
        known = self._configured.get(job_id)
        tasks = tuple(dict.fromkeys((*(known.modify_tasks if known else ()), *task_ids)))
        job = JobConfig(
            id=job_id,
            name=known.name if known else "",
            modify_tasks=tasks,
            region=region or (known.region if known else None),
        )
        key = (job.id, job.modify_tasks, job.region)
        snapshot = self._cache.get(key)
        if snapshot is None:
            snapshot = self._flight.run(lambda: self._fresh(key, job, timeout), key)
        return build_families(snapshot, None, self._options)

    def _fresh(self, key: Hashable, job: JobConfig, timeout: float | None) -> Snapshot:
        snapshot = self._collection.run(timeout, jobs=[job])
        self._cache.put(key, snapshot)
        return snapshot


def cache_note(cache_seconds: float) -> str:
    if cache_seconds <= 0:
        return ""
    return f"(Served from a cache of up to {cache_seconds:g}s: values may lag.)"
