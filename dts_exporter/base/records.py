"""What a collection produces, whatever the action: one result per id and action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from dts_exporter.base.errors import DtsApiError

R = TypeVar("R")


@dataclass(frozen=True)
class Target:
    """One id an action is called for: a job, or one of its modify tasks."""

    job_id: str
    task_id: str = ""  # empty for job-level actions
    region: str | None = None  # None: the configured region


@dataclass(frozen=True)
class Result(Generic[R]):
    """What one action answered for one target, or why it did not.

    `record` is the action's parsed answer; with `stale_seconds` a failing id keeps the
    last good record (and its `error`, so dts_up still reads 0).
    """

    action: str
    target: Target
    record: R | None
    error: DtsApiError | None
    refreshed_at: float | None = None  # wall-clock time the shown record was fetched
    last_success: float | None = None  # wall-clock time of the last successful call

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.action, self.target.job_id, self.target.task_id)
