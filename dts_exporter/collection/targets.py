"""Which ids a collection covers: the configured jobs, then the discovered ones not
configured by hand, only this replica's shard of them when sharded."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from dts_exporter.base.logfmt import quote
from dts_exporter.collection.discovery import Discovery, RegionState
from dts_exporter.config import JobConfig
from dts_exporter.snapshot import DiscoveryResult

log = logging.getLogger("dts_exporter.collection")


def shard_of(job_id: str, count: int) -> int:
    """A stable shard for a job id: the same on every replica and every run."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big") % count


@dataclass(frozen=True)
class Selection:
    jobs: tuple[JobConfig, ...]
    discovery: tuple[DiscoveryResult, ...] = ()


class Targets:
    """Selects the jobs of each collection; says once, when it changes, why there are none."""

    def __init__(
        self,
        jobs: tuple[JobConfig, ...],
        discovery: Discovery | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self._jobs = jobs
        self._discovery = discovery
        self._shard = shard
        self._nothing = ""  # why the last selection was empty

    def why_nothing(self, regions: list[RegionState] | None) -> str:
        """Why a selection is empty, in words; "" when it is not."""
        if self._jobs and self._shard is not None:
            return (
                f"none of the {len(self._jobs)} configured job(s) falls in shard {self._shard[0]}"
            )
        if self._discovery is None or regions is None:
            return "no jobs are configured and discovery is off"
        return f"no jobs are configured and {self._discovery.why_nothing(regions)}"

    def _in_shard(self, job_id: str) -> bool:
        return self._shard is None or shard_of(job_id, self._shard[1]) == self._shard[0]

    def select(self, deadline: float) -> Selection:
        jobs = [job for job in self._jobs if self._in_shard(job.id)]
        if self._discovery is None:
            return self._said(Selection(tuple(jobs)), None)
        regions = self._discovery.regions(deadline)
        known = {job.id for job in jobs}
        for state in regions:
            for found in state.jobs:
                if self._in_shard(found.job_id) and found.job_id not in known:
                    known.add(found.job_id)
                    jobs.append(JobConfig(id=found.job_id, name=found.name, region=found.region))
        results = tuple(DiscoveryResult(s.region, len(s.jobs), s.last_success) for s in regions)
        return self._said(Selection(tuple(jobs), results), regions)

    def _said(self, selection: Selection, regions: list[RegionState] | None) -> Selection:
        reason = "" if selection.jobs else self.why_nothing(regions)
        if reason and reason != self._nothing:
            log.warning("monitoring nothing reason=%s", quote(reason))
        elif not reason and self._nothing:
            log.info("monitoring again jobs=%d", len(selection.jobs))
        self._nothing = reason
        return selection
