"""Which ids a collection covers: the configured jobs, then the discovered ones not
configured by hand, only this replica's shard of them when sharded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dts_exporter.actions.dts_jobs import DiscoveredJob
from dts_exporter.collection.discovery import Discovery
from dts_exporter.config import JobConfig
from dts_exporter.snapshot import DiscoveryResult


def shard_of(job_id: str, count: int) -> int:
    """A stable shard for a job id: the same on every replica and every run."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big") % count


@dataclass(frozen=True)
class Selection:
    jobs: tuple[JobConfig, ...]
    discovered: tuple[DiscoveredJob, ...] = ()  # what DescribeDtsJobs says of each job
    discovery: tuple[DiscoveryResult, ...] = ()


class Targets:
    def __init__(
        self,
        jobs: tuple[JobConfig, ...],
        discovery: Discovery | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self._jobs = jobs
        self._discovery = discovery
        self._shard = shard

    def _in_shard(self, job_id: str) -> bool:
        return self._shard is None or shard_of(job_id, self._shard[1]) == self._shard[0]

    def select(self, deadline: float) -> Selection:
        jobs = [job for job in self._jobs if self._in_shard(job.id)]
        if self._discovery is None:
            return Selection(tuple(jobs))
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
        return Selection(tuple(jobs), tuple(discovered), results)
