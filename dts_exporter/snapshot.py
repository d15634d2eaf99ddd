"""The result of one collection: what each configured id answered, or why it did not."""

from __future__ import annotations

from dataclasses import dataclass

from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import JobConfig
from dts_exporter.parsing import DiscoveredJob, InitializationStatus, ModifyStatus


@dataclass(frozen=True)
class JobResult:
    job: JobConfig
    status: InitializationStatus | None
    error: DtsApiError | None
    refreshed_at: float | None = None  # wall-clock time the shown data was fetched
    last_success: float | None = None  # wall-clock time of the last successful call


@dataclass(frozen=True)
class TaskResult:
    job_id: str
    task_id: str
    status: ModifyStatus | None
    error: DtsApiError | None
    refreshed_at: float | None = None
    last_success: float | None = None


@dataclass(frozen=True)
class DiscoveryResult:
    region: str
    jobs: int  # matching jobs in the current list
    last_success: float | None  # wall-clock time of the last good refresh


@dataclass(frozen=True)
class Snapshot:
    region: str  # the default region, for jobs that name none
    jobs: tuple[JobResult, ...]
    tasks: tuple[TaskResult, ...]
    duration_seconds: float
    discovered: tuple[DiscoveredJob, ...] = ()  # what DescribeDtsJobs says of each job
    discovery: tuple[DiscoveryResult, ...] = ()
    calls_saved: int = 0  # ids whose settled data was reused instead of called
