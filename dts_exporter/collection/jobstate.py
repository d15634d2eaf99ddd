"""The jobs' own state, at the fewest calls: DescribeDtsJobs asks for 30 monitored jobs at a
time per region (`DtsInstanceId`); a job the list leaves out gets one DescribeDtsJobDetail.

For N jobs in a region that is ceil(N / 30) calls per refresh instead of N detail calls:
1 for 3 jobs, 1 for 30, 34 for 1,000 (plus one per job the list does not return).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, wait
from typing import Any

from dts_exporter.actions import dts_job_detail, dts_jobs
from dts_exporter.actions.spec import Action
from dts_exporter.base import errors
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Result, Target
from dts_exporter.config import JobConfig
from dts_exporter.wire.client import DtsClient

log = logging.getLogger("dts_exporter.collection")

Fetch = Callable[[Action[Any], Target, float], Result[Any]]
Note = Callable[[Action[Any], Target, Any], None]


class JobStateCalls:
    """One collection's job-state calls: submitted, followed up, gathered."""

    def __init__(
        self,
        pool: Executor,
        client: DtsClient,
        region: str,
        *,
        reuse: Callable[[Target], Result[Any] | None],
        fetch: Fetch,
        note: Note,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._client = client
        self._region = region
        self._reuse = reuse
        self._fetch = fetch
        self._note = note
        self._wall = wall_clock
        self._reused: list[Result[Any]] = []
        self._lists: list[tuple[list[Target], Future[dict[str, Result[Any]]]]] = []
        self._details: list[tuple[Target, Future[Result[Any]]]] = []

    def submit(self, jobs: Sequence[JobConfig], deadline: float) -> None:
        """One list call per region and 30 jobs that are due."""
        due: dict[str, list[Target]] = {}
        for job in jobs:
            target = Target(job.id, region=job.region)
            old = self._reuse(target)
            if old is not None:
                self._reused.append(old)
            else:
                due.setdefault(job.region or self._region, []).append(target)
        for region, targets in due.items():
            for start in range(0, len(targets), dts_jobs.IDS_PER_CALL):
                chunk = targets[start : start + dts_jobs.IDS_PER_CALL]
                future = self._pool.submit(self._list, region, chunk, deadline)
                self._lists.append((chunk, future))

    def follow_up(self, deadline: float) -> None:
        """Wait for the lists (within the deadline); ask for the jobs they left out."""
        wait([future for _, future in self._lists], timeout=max(0.0, deadline - time.monotonic()))
        for chunk, future in self._lists:
            if not future.done() or future.cancelled():
                continue
            answered = future.result()
            for target in chunk:
                if target.job_id not in answered:
                    detail = self._pool.submit(self._fetch, dts_job_detail.ACTION, target, deadline)
                    self._details.append((target, detail))

    def pending(self) -> list[Future[Any]]:
        return [f for _, f in self._lists] + [f for _, f in self._details]

    def results(self, late: DtsApiError) -> list[tuple[Result[Any], bool]]:
        """(result, reused) for every job asked for; a call not done reads `late`."""
        out = [(result, True) for result in self._reused]
        listed: set[str] = set()
        for chunk, future in self._lists:
            done = future.done() and not future.cancelled()
            answered = future.result() if done else {}
            for target in chunk:
                if target.job_id in answered:
                    out.append((answered[target.job_id], False))
                    listed.add(target.job_id)
                elif not done:
                    out.append((Result(dts_jobs.NAME, target, None, late), False))
        for target, detail in self._details:
            if target.job_id in listed:
                continue
            if detail.done() and not detail.cancelled():
                out.append((detail.result(), False))
            else:
                out.append((Result(dts_job_detail.NAME, target, None, late), False))
        for straggler in self.pending():
            straggler.cancel()
        return out

    def _list(self, region: str, chunk: list[Target], deadline: float) -> dict[str, Result[Any]]:
        """In a worker: the chunk's states; a failure is every job's result."""
        ids = [target.job_id for target in chunk]
        try:
            listed = dts_jobs.fetch(self._client, region, ids=ids, deadline=deadline)
        except Exception as exc:  # the scrape boundary: report, never propagate
            if not isinstance(exc, DtsApiError):
                log.exception("unexpected failure action=%s region=%s", dts_jobs.NAME, region)
                exc = DtsApiError(errors.UNKNOWN_ERROR, repr(exc))
            exc.action = dts_jobs.NAME
            return {t.job_id: Result(dts_jobs.NAME, t, None, exc) for t in chunk}
        states = {state.job_id: state for state in listed.jobs}
        now = self._wall()
        answered: dict[str, Result[Any]] = {}
        for target in chunk:
            state = states.get(target.job_id)
            if state is not None:
                self._note(dts_jobs.ACTION, target, state)
                answered[target.job_id] = Result(dts_jobs.NAME, target, state, None, now)
        return answered
