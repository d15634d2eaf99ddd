"""The result of one collection: what each configured id answered, or why it did not."""

from __future__ import annotations

from dataclasses import dataclass

from dts_exporter.config import JobConfig
from dts_exporter.errors import DtsApiError
from dts_exporter.parsing import InitializationStatus, ModifyStatus


@dataclass(frozen=True)
class JobResult:
    job: JobConfig
    status: InitializationStatus | None
    error: DtsApiError | None


@dataclass(frozen=True)
class TaskResult:
    job_id: str
    task_id: str
    status: ModifyStatus | None
    error: DtsApiError | None


@dataclass(frozen=True)
class Snapshot:
    region: str
    jobs: tuple[JobResult, ...]
    tasks: tuple[TaskResult, ...]
    duration_seconds: float
