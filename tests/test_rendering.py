"""Cached rendering: the bytes a scraper gets are those of an uncached render, byte for
byte, in every format, while only what changed since the last scrape is rendered anew."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import Metric as Family
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

from dts_exporter.actions import NAMES, modify_status
from dts_exporter.actions.initialization import InitializationStatus, StructureObject
from dts_exporter.actions.tables import TableFamily, TableProgress
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.base.api import DESCRIBE_MODIFY_STATUS as MODIFY
from dts_exporter.base.errors import DtsApiError
from dts_exporter.base.families import DEFAULT_OPTIONS, Builder, Options
from dts_exporter.base.records import Result, Target
from dts_exporter.config import Config, JobConfig
from dts_exporter.exposition import build_families, units
from dts_exporter.rendering import Renderer, encode
from dts_exporter.rendering.formats import Encoder
from dts_exporter.scrape import Families
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.snapshot import Snapshot
from dts_exporter.startup import build_exporter
from dts_exporter.web import ExporterServer
from tests.conftest import (
    DEMO_CREDS,
    StaticCollector,
    load_fixture,
    make_tables,
    start_scenario,
)

ENCODERS: tuple[Encoder, ...] = (
    generate_latest,  # text 0.0.4, what Prometheus asks for by default
    openmetrics.generate_latest,
    choose_encoder("application/openmetrics-text; version=1.0.0")[0],
    choose_encoder("text/plain; version=1.0.0; escaping=allow-utf-8")[0],
    choose_encoder("application/openmetrics-text; version=1.0.0; escaping=dots")[0],
)
# Label values as they may come from DTS or a config: every character text exposition
# escapes (quote, backslash, newline), other control characters, non-ASCII.
NASTY = ("orders", 'q"uote', "back\\slash", "new\nline", "ctl\x01\x1f\x7f\t\r", "é\u2028✓", "")
VALUES = (None, 0.0, -0.0, 1.0, 0.1, 1e21, 123456789.0, -5.0, float("inf"), float("nan"))
STATUSES = ("Finished", "Migrating", "NotStarted", "Failed", 'Odd"Status')
FAILURE = DtsApiError("Throttling.User", "Request was denied due to user flow control.")
EXTRA = CounterMetricFamily("other_requests", "A family of another collector.", value=3.0)


def table(rng: random.Random, index: int) -> TableProgress:
    return TableProgress(
        source_db=rng.choice(NASTY),
        dest_db=rng.choice(NASTY),
        table=f"t{index}{rng.choice(NASTY)}",
        status=rng.choice(STATUSES),
        total_rows=rng.choice(VALUES),
        finished_rows=rng.choice(VALUES),
        used_time_seconds=rng.choice(VALUES),
        error_message=rng.choice(("", "", 'DTS-1020042 Execute sql error\n"x"')),
    )


def status(tables: Sequence[TableProgress], rng: random.Random) -> InitializationStatus:
    structure = tuple(
        StructureObject("db", "db", rng.choice(("Table", "View")), f"o{i}", "Finished", "")
        for i in range(rng.randrange(3))
    )
    return InitializationStatus(tables=tuple(tables), structure=structure, synchronization=None)


class Fleet:
    """Monitored jobs whose results evolve as collections make them: reused (the same
    record object), answered alike (an equal new record), changed, failing, stale."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names = {f"dts{i}": rng.choice(NASTY) for i in range(4)}
        self.results: dict[str, Result[Any]] = {}
        self.task: Result[Any] = Result(MODIFY, Target("dts0", "task0"), None, FAILURE)
        self.modify_body = load_fixture("describe_modify_status.json")

    def step(self) -> tuple[Snapshot, Options]:
        rng = self.rng
        present = [job for job in self.names if rng.random() < 0.8]
        for job_id in present:
            old = self.results.get(job_id)
            self.results[job_id] = self._evolve(job_id, old)
        if rng.random() < 0.3:
            self.names[rng.choice(list(self.names))] = rng.choice(NASTY)  # a renamed job
        jobs = tuple(JobConfig(job_id, name=self.names[job_id]) for job_id in present)
        results = [self.results[job_id] for job_id in present]
        if rng.random() < 0.1 and results:
            results.append(results[0])  # the same id twice
        if "dts0" in present:
            change = rng.random()
            if change < 0.3:
                self.task = Result(
                    MODIFY, self.task.target, modify_status.parse(self.modify_body), None, 5.0
                )
            elif change < 0.4:
                self.task = Result(MODIFY, self.task.target, None, FAILURE)
            results.append(self.task)
        options = rng.choice(
            (
                DEFAULT_OPTIONS,
                DEFAULT_OPTIONS,
                Options(table_metrics="unfinished"),
                Options(max_table_series_per_job=2),
                Options(note="(Served from a cache of up to 5s: values may lag.)"),
                Options(info_tags=("env",)),
            )
        )
        snapshot = Snapshot("cn-hangzhou", jobs, tuple(results), 0.25)
        return snapshot, options

    def _evolve(self, job_id: str, old: Result[Any] | None) -> Result[Any]:
        rng = self.rng
        target = Target(job_id)
        if old is None or old.record is None:
            if old is not None and rng.random() < 0.5:
                return old
            tables = [table(rng, i) for i in range(rng.randrange(6))]
            return Result(INIT, target, status(tables, rng), None, 100.0, 100.0)
        record: InitializationStatus = old.record
        kind = rng.choice(("same", "same", "equal", "change", "change", "fail", "stale", "time"))
        if kind == "same":  # a settled id: the last result reused as it is
            return replace(old, last_success=old.refreshed_at)
        if kind == "equal":  # answered again, alike: new, equal records
            tables = [replace(t) for t in record.tables]
            return replace(old, record=status(tables, rng), refreshed_at=101.0)
        if kind == "change":
            tables = list(record.tables)
            for i in range(len(tables)):
                if rng.random() < 0.3:
                    tables[i] = replace(tables[i], finished_rows=rng.choice(VALUES))
                if rng.random() < 0.1:
                    tables[i] = replace(tables[i], status=rng.choice(STATUSES))
            if rng.random() < 0.3:
                tables.append(table(rng, len(tables)))
            if tables and rng.random() < 0.2:
                tables.pop(rng.randrange(len(tables)))
            if tables and rng.random() < 0.1:  # listed twice (the parser merges; be safe)
                tables.insert(rng.randrange(len(tables)), replace(rng.choice(tables)))
            return replace(old, record=status(tables, rng), refreshed_at=102.0, error=None)
        if kind == "fail":
            return Result(INIT, target, None, FAILURE, None, old.last_success)
        if kind == "stale":  # stale_seconds: the last good record, dts_up 0
            return replace(old, error=FAILURE)
        return replace(old, refreshed_at=rng.choice((0.0, -0.0, 103.0)))


def stats() -> ApiStats:
    out = ApiStats(NAMES)
    out.observe(INIT, "Success", 0.12)
    out.observe(MODIFY, "Throttling.User", 0.03)
    return out


def expected(snapshot: Snapshot, api: ApiStats | None, options: Options, encoder: Encoder) -> bytes:
    return encoder(StaticCollector([*build_families(snapshot, api, options), EXTRA]))


def cached(families: list[Family], encoder: Encoder) -> bytes:
    return encode(StaticCollector([*families, EXTRA]), encoder)


def run_sequence(rng: random.Random, steps: int, formats: int) -> None:
    fleet = Fleet(rng)
    renderers = (Renderer(), Renderer(capacity=3))
    api = stats()
    for _ in range(steps):
        snapshot, options = fleet.step()
        for renderer, with_stats in zip(renderers, (api, None), strict=True):
            families = renderer.families(snapshot, with_stats, options)
            for encoder in rng.sample(ENCODERS, k=formats):
                want = expected(snapshot, with_stats, options, encoder)
                assert cached(families, encoder) == want
                assert cached(families, encoder) == want  # rendered again: all reused
                assert encoder(StaticCollector([*families, EXTRA])) == want  # plain families
        assert len(renderers[0]) == len(units(snapshot))  # only the ids of this render
        assert len(renderers[1]) <= 3


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_cached_output_is_the_uncached_output_at_every_step(rng: random.Random) -> None:
    run_sequence(rng, steps=5, formats=2)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_cached_output_is_the_uncached_output_over_long_sequences(rng: random.Random) -> None:
    run_sequence(rng, steps=12, formats=len(ENCODERS))


# -- what is rendered anew --------------------------------------------------------------------


def job_tables(count: int, state: str = "Finished") -> list[TableProgress]:
    return [
        TableProgress("shop", "shop", f"t{i:05d}", state, 1000.0 + i, 1000.0 + i, 12.0, "")
        for i in range(count)
    ]


def fleet_snapshot(records: Sequence[InitializationStatus], first: int = 0) -> Snapshot:
    jobs = tuple(JobConfig(f"dtsjob{first + i}", name=f"job {i}") for i in range(len(records)))
    results = tuple(
        Result(INIT, Target(job.id), record, None, 100.0, 100.0)
        for job, record in zip(jobs, records, strict=True)
    )
    return Snapshot("cn-hangzhou", jobs, results, 0.5)


def rows_of(snapshot: Snapshot, key: tuple[str, ...], *, tables: bool) -> int:
    """Sample lines of one id, per-table ones or the others."""
    unit = next(u for u in units(snapshot) if u.key == key)
    b = Builder()
    unit.add(b)
    return sum(len(f.samples) for f in b.families() if isinstance(f, TableFamily) is tables)


def render(renderer: Renderer, snapshot: Snapshot, encoder: Encoder = generate_latest) -> int:
    """Renders the snapshot (checking it against the uncached output); the fresh rows."""
    before = renderer.fresh_rows
    body = encode(Families(renderer.families(snapshot, None)), encoder)
    assert body == encoder(StaticCollector(build_families(snapshot, None)))
    return renderer.fresh_rows - before


def test_a_settled_fleet_is_rendered_once() -> None:
    records = [status(job_tables(50), random.Random(i)) for i in range(20)]
    renderer = Renderer()
    first = render(renderer, fleet_snapshot(records))
    assert first == 20 * (50 * 5) + sum(
        rows_of(fleet_snapshot(records), ("result", INIT, f"dtsjob{i}", ""), tables=False) + 1
        for i in range(20)
    )  # every line once: the tables', each id's others and its dts_job_info
    rebuilt = renderer.rebuilt_units
    assert render(renderer, fleet_snapshot(records)) == 0
    assert render(renderer, fleet_snapshot(records)) == 0
    assert renderer.rebuilt_units == rebuilt  # not even built again


def test_only_the_changed_ids_and_tables_are_rendered_anew() -> None:
    records = [status(job_tables(100, "Migrating"), random.Random(i)) for i in range(10)]
    renderer = Renderer()
    render(renderer, fleet_snapshot(records))
    # job 3 answers again with 10 of its 100 tables moved on; the others are reused
    tables = list(records[3].tables)
    for i in range(0, 100, 10):
        tables[i] = replace(tables[i], finished_rows=tables[i].finished_rows + 1)  # type: ignore[operator]
    records[3] = replace(records[3], tables=tuple(tables))
    snapshot = fleet_snapshot(records)
    others = rows_of(snapshot, ("result", INIT, "dtsjob3", ""), tables=False)
    # 10 tables x 2 series that moved (synced rows, row gap); their other 3 lines too,
    # since a table's five lines are made together, and the id's non-table lines
    assert render(renderer, snapshot) == 10 * 5 + others


def test_an_equal_answer_renders_no_table_line() -> None:
    records = [status(job_tables(100, "Migrating"), random.Random(0))]
    renderer = Renderer()
    render(renderer, fleet_snapshot(records))
    again = [status([replace(t) for t in records[0].tables], random.Random(0))]
    assert again[0] == records[0] and again[0] is not records[0]
    snapshot = fleet_snapshot(again)
    assert render(renderer, snapshot) == rows_of(
        snapshot, ("result", INIT, "dtsjob0", ""), tables=False
    )


def test_a_zero_keeps_its_sign() -> None:
    """0.0 == -0.0, yet the text differs: an equal table with the other zero is redone."""
    zero = [TableProgress("db", "db", "t", "Migrating", 0.0, 0.0, 0.0, "")]
    minus = [TableProgress("db", "db", "t", "Migrating", -0.0, 0.0, -0.0, "")]
    assert zero == minus
    renderer = Renderer()
    for tables in (zero, minus, zero):
        snapshot = fleet_snapshot([status(tables, random.Random(0))])
        render(renderer, snapshot)  # checks the output against the uncached one
    text = encode(Families(renderer.families(snapshot, None)), generate_latest)
    assert b'table="t"} 0.0\n' in text and b"-0.0" not in text


def test_each_format_is_rendered_once_and_kept() -> None:
    records = [status(job_tables(30), random.Random(0))]
    renderer = Renderer()
    text = render(renderer, fleet_snapshot(records), generate_latest)
    om = render(renderer, fleet_snapshot(records), openmetrics.generate_latest)
    assert text == om > 150
    for _ in range(2):
        assert render(renderer, fleet_snapshot(records), generate_latest) == 0
        assert render(renderer, fleet_snapshot(records), openmetrics.generate_latest) == 0


def test_ids_that_go_are_forgotten() -> None:
    records = [status(job_tables(5), random.Random(i)) for i in range(6)]
    renderer = Renderer()
    render(renderer, fleet_snapshot(records))
    assert len(renderer) == 12  # per job its info and its result
    render(renderer, fleet_snapshot(records[:2]))
    assert len(renderer) == 4
    prober = Renderer(capacity=5)
    for i, record in enumerate(records):  # one job per probe
        render(prober, fleet_snapshot([record], first=i))
    assert len(prober) == 5


# -- over HTTP ---------------------------------------------------------------------------------


class _Fixed:
    """Scrapes answering one snapshot through a renderer, as the exporter does."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.renderer = Renderer()

    def metrics(self, timeout: float | None) -> Collector:
        return Families(self.renderer.families(self.snapshot, None), [StaticCollector([EXTRA])])

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> Collector:
        return self.metrics(timeout)


@pytest.fixture
def served() -> Iterator[tuple[str, _Fixed]]:
    rng = random.Random(7)
    snapshot = fleet_snapshot([status([table(rng, i) for i in range(40)], rng) for _ in range(3)])
    scrapes = _Fixed(snapshot)
    server = ExporterServer(scrapes, "127.0.0.1", 0)
    server.start()
    try:
        yield server.url(), scrapes
    finally:
        server.close()


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "text/plain;version=0.0.4;q=1,*/*;q=0.1",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "text/plain; version=1.0.0; escaping=allow-utf-8",
    ],
)
def test_metrics_answers_what_the_encoder_renders(served: tuple[str, _Fixed], accept: str) -> None:
    url, scrapes = served
    encoder, content_type = choose_encoder(accept)
    want = expected(scrapes.snapshot, None, DEFAULT_OPTIONS, encoder)
    for gzipped in (False, True, False):
        response = requests.get(
            f"{url}/metrics",
            headers={"Accept": accept, "Accept-Encoding": "gzip" if gzipped else "identity"},
            timeout=10,
            stream=True,
        )
        raw = response.raw.read()
        assert response.headers["Content-Type"] == content_type
        assert (response.headers.get("Content-Encoding") == "gzip") is gzipped
        assert (gzip.decompress(raw) if gzipped else raw) == want
    fresh = scrapes.renderer.fresh_rows
    requests.get(f"{url}/probe?job_id=dtsjob0", headers={"Accept": accept}, timeout=10)
    assert scrapes.renderer.fresh_rows == fresh  # the fourth answer: nothing rendered anew


def test_the_exporter_renders_a_settled_job_once(tmp_path: Path) -> None:
    """The real exporter over HTTP: a job whose 30 tables are Finished is fetched and
    rendered once; later scrapes render none of its table lines and answer the same."""
    tables = make_tables(30, status="Finished")
    sim = start_scenario(tmp_path, {"jobs": {"dtsdone": {"DataInitializationDetails": tables}}})
    config = Config(region="cn-hangzhou", endpoint=sim.url, jobs=(JobConfig("dtsdone"),))
    exporter = build_exporter(config, DEMO_CREDS)
    server = ExporterServer(exporter, "127.0.0.1", 0)
    server.start()
    try:
        bodies, fresh = [], []
        for _ in range(3):
            text = requests.get(f"{server.url()}/metrics", timeout=10).text
            bodies.append([line for line in text.splitlines() if 'table="t' in line])
            fresh.append(exporter.collector.renderer.fresh_rows)
    finally:
        server.close()
        exporter.close()
        sim.close()
    assert len(bodies[0]) == 30 * 5 and bodies[0] == bodies[1] == bodies[2]
    assert fresh[0] >= 30 * 5
    assert fresh[2] - fresh[1] < 30 * 5  # only ids that were called again (job state, say)
