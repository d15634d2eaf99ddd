"""What one HTTP request gets: `/metrics` (every monitored id) or `/probe` (one job).

Concurrent requests share one in-flight collection (single flight); with
`cache_seconds`, a request that follows a recent one (a second Prometheus, say) is served
that collection without API calls. Registering `DtsCollector` makes no API call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from dts_exporter.base.families import DEFAULT_OPTIONS, Options
from dts_exporter.collection.caching import SingleFlight, TtlCache, cached
from dts_exporter.collection.fanout import Collection
from dts_exporter.config import JobConfig
from dts_exporter.exposition import build_families, describe_families, with_note
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot


class DtsCollector(Collector):
    """The prometheus-client collector of every monitored id: fresh families per scrape."""

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
        self._cache: TtlCache[Snapshot] = TtlCache(cache_seconds, clock)
        self._options = with_note(options, cache_seconds)

    def describe(self) -> Iterator[Family]:
        # Declared so that registering does not trigger a collection (and API calls).
        return describe_families()

    def collect(self) -> Iterator[Family]:
        return iter(self.families(None))

    def families(self, timeout: float | None) -> list[Family]:
        """The families of one collection that runs within `timeout` (Prometheus's scrape
        timeout less the offset, when it announced one)."""
        snapshot = cached(self._cache, self._flight, None, lambda: self._collection.run(timeout))
        return build_families(snapshot, self._stats, self._options)


class Prober:
    """`/probe?job_id=...`: one job (and its modify tasks) per request, blackbox-style, so
    Prometheus's own service discovery and hashmod sharding can spread jobs over replicas.
    Concurrent probes of the same target share one collection; `cache_seconds` applies."""

    def __init__(
        self,
        collection: Collection,
        configured: Sequence[JobConfig],
        *,
        options: Options = DEFAULT_OPTIONS,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = collection
        self._configured = {job.id: job for job in configured}
        self._flight: SingleFlight[Snapshot] = SingleFlight()
        self._cache: TtlCache[Snapshot] = TtlCache(cache_seconds, clock)
        self._options = with_note(options, cache_seconds)

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
        snapshot = cached(
            self._cache, self._flight, key, lambda: self._collection.run(timeout, jobs=[job])
        )
        return build_families(snapshot, None, self._options)


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
