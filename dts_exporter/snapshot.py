"""The result of one collection: what each monitored id answered, or why it did not.

It is what the fetching side hands the exposing side: `collection` makes snapshots,
`exposition` turns them into metric families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dts_exporter.base.records import Result
from dts_exporter.config import JobConfig


@dataclass(frozen=True)
class DiscoveryResult:
    region: str
    jobs: int  # matching jobs in the current list
    last_success: float | None  # wall-clock time of the last good refresh


@dataclass(frozen=True)
class Snapshot:
    region: str  # the default region, for jobs that name none
    jobs: tuple[JobConfig, ...]  # the monitored jobs, configured then discovered
    results: tuple[Result[Any], ...]  # per job and job-level action, then per task
    duration_seconds: float
    discovery: tuple[DiscoveryResult, ...] = ()
    calls_saved: int = 0  # ids whose settled data was reused instead of called
    # Background collection: wall-clock time it finished (0.0: none has yet); None on demand.
    collected_at: float | None = None
