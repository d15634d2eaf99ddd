"""Pipelined paging: the pages a job had last time are asked for at once, judged in order.

A fake DTS client counts calls and the calls in flight at once; a page can be told to hold
until a number of calls are in flight together, so "asked for at once" is checked by
counts, not by timings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from dts_exporter.actions import NAMES
from dts_exporter.actions import initialization as init
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.records import Result
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.config.model import JobStatusConfig, VerificationConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.wire.client import DtsClient
from tests.conftest import make_tables

PAGE = init.PAGE_SIZE


class FakeDts:
    """DescribeInitializationStatus over `tables` per job, pages of PAGE_SIZE."""

    region = "cn-hangzhou"

    def __init__(self, tables: Mapping[str, int]) -> None:
        self.tables = {job: make_tables(count) for job, count in tables.items()}
        self.calls: list[tuple[str, int]] = []  # (job id, PageNum)
        self.in_flight = 0
        self.max_in_flight = 0
        self.gather = 1  # a call holds (up to 5 s) until this many have been in flight at once
        self.fail_pages: set[int] = set()
        self.ignore_page_num = False
        self.oversized_pages: set[int] = set()
        self._lock = threading.Condition()

    def resize(self, job: str, count: int) -> None:
        self.tables[job] = make_tables(count)

    def call(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        region: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        assert action == init.NAME
        job, page = params["SynchronizationJobId"], int(params["PageNum"])
        with self._lock:
            self.calls.append((job, page))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
            self._lock.wait_for(lambda: self.max_in_flight >= self.gather, timeout=5)
        try:
            if page in self.fail_pages:
                raise DtsApiError("InternalError", f"page {page} failed")
            number = 1 if self.ignore_page_num else page
            rows = self.tables[job][(number - 1) * PAGE : number * PAGE]
            if page in self.oversized_pages:
                rows = make_tables(PAGE + 1)
            return {"RequestId": f"{job}-{page}", "DataInitializationDetails": rows}
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        pass

    def pages_asked(self) -> list[int]:
        with self._lock:
            asked, self.calls = sorted(page for _, page in self.calls), []
        return asked


def make_collection(fake: FakeDts, concurrency: int = 8) -> Collection:
    config = Config(
        region="cn-hangzhou",
        jobs=tuple(JobConfig(job) for job in fake.tables),
        concurrency=concurrency,
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
    )
    targets = Targets(config.jobs, None, None)
    return Collection(config, cast(DtsClient, fake), ApiStats(NAMES), targets)


@pytest.fixture
def five_pages() -> Iterator[tuple[FakeDts, Collection]]:
    fake = FakeDts({"dtsbig": 4 * PAGE + 50})
    collection = make_collection(fake)
    yield fake, collection
    collection.close()


def init_result(collection: Collection, job: str = "dtsbig") -> Result[Any]:
    snapshot = collection.run()
    return next(r for r in snapshot.results if r.action == init.NAME and r.target.job_id == job)


def at_once(fake: FakeDts, collection: Collection, pages: int = 5) -> None:
    """One collection to learn the page count; from then on the next `pages` calls hold
    until all of them are in flight together."""
    init_result(collection)
    fake.pages_asked()
    fake.gather = pages


def tables(result: Result[Any]) -> int:
    assert result.error is None, result.error
    record = cast(init.InitializationStatus, result.record)
    return len(record.tables)


def test_the_first_collection_pages_one_after_another(
    five_pages: tuple[FakeDts, Collection],
) -> None:
    fake, collection = five_pages
    assert tables(init_result(collection)) == 450
    assert fake.pages_asked() == [1, 2, 3, 4, 5]
    assert fake.max_in_flight == 1


def test_the_pages_a_job_had_last_time_are_asked_for_at_once(
    five_pages: tuple[FakeDts, Collection],
) -> None:
    fake, collection = five_pages
    at_once(fake, collection)
    result = init_result(collection)
    assert tables(result) == 450
    assert fake.pages_asked() == [1, 2, 3, 4, 5]
    assert fake.max_in_flight >= 4
    assert cast(init.InitializationStatus, result.record).pages == 5


def test_a_job_that_shrank_keeps_only_its_pages(five_pages: tuple[FakeDts, Collection]) -> None:
    fake, collection = five_pages
    at_once(fake, collection)
    fake.resize("dtsbig", 2 * PAGE + 50)
    result = init_result(collection)
    assert tables(result) == 250  # pages 4 and 5 (empty now) discarded, not merged
    assert fake.pages_asked() == [1, 2, 3, 4, 5]
    assert cast(init.InitializationStatus, result.record).pages == 3
    assert tables(init_result(collection)) == 250
    assert fake.pages_asked() == [1, 2, 3]  # the next collection asks for 3 pages at once


def test_a_job_that_grew_is_paged_on() -> None:
    fake = FakeDts({"dtsbig": 2 * PAGE + 50})
    collection = make_collection(fake)
    try:
        at_once(fake, collection, 3)
        fake.resize("dtsbig", 4 * PAGE + 50)
        result = init_result(collection)
        assert tables(result) == 450
        assert fake.pages_asked() == [1, 2, 3, 4, 5]
        assert fake.max_in_flight == 3  # the three known pages at once, then one by one
        assert cast(init.InitializationStatus, result.record).pages == 5
    finally:
        collection.close()


def test_a_failing_page_fails_the_whole_fetch(five_pages: tuple[FakeDts, Collection]) -> None:
    fake, collection = five_pages
    at_once(fake, collection)
    fake.fail_pages = {2}
    result = init_result(collection)
    assert result.record is None  # no half job
    assert result.error is not None and result.error.code == "InternalError"
    assert fake.max_in_flight == 5


def test_a_repeated_page_is_refused_when_pages_come_at_once(
    five_pages: tuple[FakeDts, Collection],
) -> None:
    fake, collection = five_pages
    at_once(fake, collection)
    fake.ignore_page_num = True
    result = init_result(collection)
    assert result.record is None
    assert result.error is not None and result.error.code == "InvalidResponse"
    assert "page 2 of DescribeInitializationStatus repeats page 1" in result.error.message


def test_an_oversized_page_is_refused_when_pages_come_at_once(
    five_pages: tuple[FakeDts, Collection],
) -> None:
    fake, collection = five_pages
    at_once(fake, collection)
    fake.oversized_pages = {3}
    result = init_result(collection)
    assert result.record is None
    assert result.error is not None and result.error.code == "InvalidResponse"
    assert "page 3 of DescribeInitializationStatus has 101 entries" in result.error.message


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_many_paged_jobs_stay_within_concurrency_and_never_deadlock(concurrency: int) -> None:
    # Every worker busy with a job whose pages wait in the same pool: a page not started is
    # taken back and asked for by the job's own worker, never waited for.
    fake = FakeDts({f"dts{i}": 4 * PAGE + 50 for i in range(6)})
    collection = make_collection(fake, concurrency)
    try:
        collection.run()
        fake.pages_asked()
        fake.max_in_flight = 0
        snapshot = collection.run()
        results = [r for r in snapshot.results if r.action == init.NAME]
        assert [tables(r) for r in results] == [450] * 6
        assert fake.pages_asked() == sorted([1, 2, 3, 4, 5] * 6)
        assert fake.max_in_flight <= concurrency
    finally:
        collection.close()
