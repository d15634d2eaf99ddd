"""What one HTTP request gets: `/metrics` (every monitored id) or `/probe` (one job).

Concurrent requests share one in-flight collection (single flight); with
`cache_seconds`, a request that follows a recent one (a second Prometheus, say) is served
that collection without API calls. Neither ever serves a request a collection made under
a shorter deadline than its own (see `caching`). Registering `DtsCollector` makes no API
call.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from dts_exporter.base.errors import DtsExporterError
from dts_exporter.base.families import DEFAULT_OPTIONS, Options
from dts_exporter.collection.background import FIRST_WAIT_SECONDS, Background
from dts_exporter.collection.caching import SingleFlight, TtlCache, cached
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.history import PROBE_CAPACITY
from dts_exporter.config import JobConfig
from dts_exporter.exposition import describe_families, with_note
from dts_exporter.rendering import Renderer
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot


class DtsCollector(Collector):
    """The prometheus-client collector of every monitored id: fresh families per scrape,
    or with a `background` collector (collection_interval_seconds) its latest collection."""

    def __init__(
        self,
        collection: Collection,
        stats: ApiStats,
        *,
        options: Options = DEFAULT_OPTIONS,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        scrape_timeout_seconds: float = math.inf,
        background: Background | None = None,
    ) -> None:
        self._collection = collection
        self._stats = stats
        self._background = background  # with one, scrapes serve its latest collection
        self._ceiling = scrape_timeout_seconds  # the collection's own cap on any deadline
        self._flight: SingleFlight[Snapshot] = SingleFlight()
        self._cache: TtlCache[Snapshot] = TtlCache(cache_seconds, clock)
        self._options = with_note(options, cache_seconds)
        self.renderer = Renderer()  # each id's rendered lines, reused while it is unchanged

    def describe(self) -> Iterator[Family]:
        # Declared so that registering does not trigger a collection (and API calls).
        return describe_families()

    def collect(self) -> Iterator[Family]:
        return iter(self.families(None))

    def families(self, timeout: float | None) -> list[Family]:
        """The families of one collection that runs within `timeout` (Prometheus's scrape
        timeout less the offset, when it announced one)."""
        budget = _budget(timeout, self._ceiling)
        if self._background is not None:  # no API call: what the background collected
            snapshot = self._background.latest(min(budget, FIRST_WAIT_SECONDS))
        else:
            snapshot = cached(
                self._cache, self._flight, None, lambda: self._collection.run(timeout), budget
            )
        return self.renderer.families(snapshot, self._stats, self._options)


class ProbeRefusedError(DtsExporterError):
    """A probe not served: `status` is the HTTP status to answer, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Prober:
    """`/probe?job_id=...`: one job (and its modify tasks) per request, blackbox-style, so
    Prometheus's own service discovery and hashmod sharding can spread jobs over replicas.
    Concurrent probes of the same target share one collection; `cache_seconds` applies.

    Probes name ids from outside, so they are bounded: at most `max_task_ids` task ids of
    its own per probe (ProbeRefusedError 400), at most `slots` probe collections at once (a
    probe waits for a slot up to half its deadline, then is refused with 503), and the
    cache holds the most recent PROBE_CAPACITY targets. `collection` should be one of its
    own (startup gives it a share of the concurrency and rate), so that probes never take
    the configured ids' workers.
    """

    def __init__(
        self,
        collection: Collection,
        configured: Sequence[JobConfig],
        *,
        options: Options = DEFAULT_OPTIONS,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        max_task_ids: int = 50,
        slots: int = 4,
        scrape_timeout_seconds: float = math.inf,
    ) -> None:
        self._collection = collection
        self._configured = {job.id: job for job in configured}
        self._flight: SingleFlight[Snapshot] = SingleFlight()
        self._cache: TtlCache[Snapshot] = TtlCache(cache_seconds, clock, PROBE_CAPACITY)
        self._options = with_note(options, cache_seconds)
        self.renderer = Renderer(capacity=PROBE_CAPACITY)
        self.max_task_ids = max_task_ids
        self.slots = slots
        self._slots = threading.BoundedSemaphore(slots)
        self._ceiling = scrape_timeout_seconds

    def families(
        self,
        job_id: str,
        task_ids: Sequence[str] = (),
        region: str | None = None,
        timeout: float | None = None,
    ) -> list[Family]:
        """Raises ProbeRefusedError for too many task ids, or when no slot frees in time."""
        known = self._configured.get(job_id)
        configured = known.modify_tasks if known else ()
        asked = [task for task in dict.fromkeys(task_ids) if task not in configured]
        if len(asked) > self.max_task_ids:
            raise ProbeRefusedError(
                400,
                f"too many task_id values: {len(asked)} distinct, at most "
                f"{self.max_task_ids} per probe (probe_max_task_ids)",
            )
        job = JobConfig(
            id=job_id,
            name=known.name if known else "",
            modify_tasks=(*configured, *asked),
            region=region or (known.region if known else None),
        )
        key = (job.id, job.modify_tasks, job.region)
        budget = _budget(timeout, self._ceiling)
        snapshot = cached(
            self._cache, self._flight, key, lambda: self._collect(job, budget), budget
        )
        return self.renderer.families(snapshot, None, self._options)

    def _collect(self, job: JobConfig, budget: float) -> Snapshot:
        """One probe collection in a slot, within what is left of `budget` once it has one."""
        started = time.monotonic()
        patience = budget / 2 if math.isfinite(budget) else None
        if not self._slots.acquire(timeout=patience):
            raise ProbeRefusedError(
                503,
                f"too many probes in flight: all {self.slots} slots stayed busy for half "
                f"the probe's {budget:g}s deadline",
            )
        try:
            left = budget - (time.monotonic() - started)
            return self._collection.run(left if math.isfinite(left) else None, jobs=[job])
        finally:
            self._slots.release()


def _budget(timeout: float | None, ceiling: float) -> float:
    """The seconds a collection may take: the request's deadline, capped by the config's."""
    return ceiling if timeout is None else min(timeout, ceiling)


class Families(Collector):
    """Families already built for one request, then those of `extra` collectors."""

    def __init__(self, families: Iterable[Family], extra: Sequence[Collector] = ()) -> None:
        self._families = list(families)
        self._extra = extra

    def collect(self) -> Iterator[Family]:
        yield from self._families
        for collector in self._extra:
            yield from collector.collect()


def process_collectors() -> tuple[Collector, ...]:
    """prometheus-client's process_* and python_info, as every exporter has them."""
    return (ProcessCollector(registry=None), PlatformCollector(registry=None))
