"""Finding synchronization jobs with DescribeDtsJobs, per region, on a slow cadence.

The list is cached; a failed refresh keeps the last good list (the failure is counted by
the client's request counters and logged once) and is retried on the next collection.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dts_exporter.actions import dts_jobs
from dts_exporter.actions.job_state import JobState
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.logfmt import quote, value
from dts_exporter.config import DiscoveryConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.wire.client import DtsClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionState:
    region: str
    jobs: tuple[JobState, ...]
    last_success: float | None  # wall-clock time of the last good refresh
    listed: int = 0  # jobs the region listed, before name_pattern


class Discovery:
    def __init__(
        self,
        config: DiscoveryConfig,
        client: DtsClient,
        *,
        stats: ApiStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        raise_errors: bool = False,
    ) -> None:
        self._raise = raise_errors  # for `check`: report the failure instead of keeping going
        self._config = config
        self._client = client
        self._stats = stats
        self._clock = clock
        self._wall = wall_clock
        self._pattern = re.compile(config.name_pattern) if config.name_pattern else None
        self._tags = [(key, value) for key, _, value in (t.partition("=") for t in config.tags)]
        self._lock = threading.Lock()
        self._states = {r: RegionState(r, (), None) for r in config.regions}
        self._next_refresh = dict.fromkeys(config.regions, 0.0)
        self._failing: dict[str, str] = {}

    def regions(self, deadline: float | None = None) -> list[RegionState]:
        """Every region's jobs (those matching name_pattern), refreshed when due."""
        with self._lock:  # one refresh at a time; collections are single-flight anyway
            for region in self._config.regions:
                if self._clock() >= self._next_refresh[region]:
                    self._refresh(region, deadline)
            return [self._filtered(self._states[r]) for r in self._config.regions]

    def why_nothing(self, states: list[RegionState]) -> str:
        """Why these regions give no job to monitor, in words."""
        listed = sum(state.listed for state in states)
        regions = ", ".join(state.region for state in states)
        failing = [state.region for state in states if state.last_success is None]
        if failing:
            return f"discovery has not listed {', '.join(failing)} yet (see the failure logged)"
        if listed == 0:
            tags = f" with tags {', '.join(self._config.tags)}" if self._config.tags else ""
            return f"discovery found no synchronization job{tags} in {regions}"
        return (
            f"name_pattern {self._config.name_pattern!r} matched none of the {listed} "
            f"synchronization job(s) in {regions}"
        )

    def _filtered(self, state: RegionState) -> RegionState:
        if self._pattern is None:
            return state
        jobs = tuple(j for j in state.jobs if self._pattern.search(j.name))
        return RegionState(state.region, jobs, state.last_success, len(state.jobs))

    def _refresh(self, region: str, deadline: float | None) -> None:
        try:
            listed = dts_jobs.fetch(self._client, region, tags=self._tags, deadline=deadline)
        except DtsApiError as exc:
            if self._raise:
                raise
            if self._failing.get(region) != exc.code:
                log.warning(
                    "discovery failed, keeping the last list region=%s action=%s code=%s "
                    "jobs_kept=%d message=%s",
                    region,
                    dts_jobs.NAME,
                    value(exc.code),
                    len(self._states[region].jobs),
                    quote(exc.message),
                )
            self._failing[region] = exc.code
            return  # due again on the next collection
        if listed.problems:
            if self._stats is not None:
                self._stats.add_problems(dts_jobs.NAME, len(listed.problems))
            log.warning(
                "unusable fields skipped action=%s region=%s count=%d first=%s",
                dts_jobs.NAME,
                region,
                len(listed.problems),
                quote(listed.problems[0]),
            )
        if region in self._failing:
            log.info("discovery recovered region=%s jobs=%d", region, len(listed.jobs))
            del self._failing[region]
        self._states[region] = RegionState(region, listed.jobs, self._wall(), len(listed.jobs))
        self._next_refresh[region] = self._clock() + self._config.refresh_seconds
