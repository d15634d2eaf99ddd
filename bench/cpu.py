"""Exporter CPU per exported series per scrape, against the `generate_latest` floor.

One synchronization job of --tables tables (5 per-table series each: 4,000 tables = 20k
table series, 20,000 = 100k) and one modify task. The API answers are the simulator's own
bytes (its pager and JSON renderer), recorded once and replayed by a client whose `call`
only decodes them, so the network and the simulator are out of the measurement and what
remains is exactly the exporter's per-scrape work:

- `exporter`: `generate_latest(registry)` on a registry holding the real `DtsCollector`:
  decode every page (json.loads) and merge them, parse, build the families, render;
- `floor`: `generate_latest` alone over pre-built `GaugeMetricFamily` objects with the same
  names, HELP, labels and values (what any Python exporter of these series pays at least).

CPU is `time.process_time()` (all threads of this process) over --scrapes scrapes, repeated
--runs times with the two alternated; medians are reported. A phase breakdown (decode,
parse, build, render; single-threaded) shows where the time goes, and --profile prints
py-spy's top frames by self time for the same single-threaded pipeline.

    .venv/bin/python bench/cpu.py [--tables 4000 20000 --scrapes 5 --runs 3 --profile]

--profile needs py-spy (`.venv/bin/pip install py-spy`).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bench.common import (
    AK,
    SECRET,
    fmt_runs,
    header,
    job_id,
    load,
    median,
    table,
    task_body,
    task_id,
    write_out,
)
from dts_exporter.actions import NAMES, initialization, modify_status
from dts_exporter.actions.initialization import PAGE_SIZE
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.base.records import Result, Target
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.exposition import build_families
from dts_exporter.scrape import DtsCollector
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator.api import page_job_body
from dts_exporter.simulator.render import render_json
from dts_exporter.snapshot import Snapshot
from dts_exporter.wire import transport
from dts_exporter.wire.client import DtsClient

TABLE_SERIES_PER_TABLE = 5


def recorded_pages(tables: int) -> dict[int, bytes]:
    """Every page the client asks for, as the simulator renders it (JSON, 100 per page)."""
    stored = {"DataInitializationDetails": [table(0, t) for t in range(tables)]}
    out: dict[int, bytes] = {}
    page = 1
    while True:
        body = page_job_body(stored, page, PAGE_SIZE)
        body["RequestId"] = str(uuid.uuid4()).upper()
        body["Success"] = True
        out[page] = render_json(body)
        if len(body["DataInitializationDetails"]) < PAGE_SIZE:
            return out
        page += 1


class ReplayClient(DtsClient):
    """A DtsClient whose calls answer from recorded bodies instead of the network."""

    def __init__(self, pages: Mapping[int, bytes], task: bytes) -> None:
        super().__init__(
            region="cn-hangzhou",
            credentials=StaticProvider(Credentials(AK, SECRET)),
            timeout_seconds=10,
            pool_size=1,  # answers from recordings: the pool stays unused
        )
        self._pages = pages
        self._task = task

    def call(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        region: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        if action == DESCRIBE_INITIALIZATION_STATUS:
            content = self._pages[int(params["PageNum"])]
        else:
            content = self._task
        return transport.decode_response(action, 200, content)


class Prebuilt(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def config() -> Config:
    return Config(
        region="cn-hangzhou",
        endpoint="http://127.0.0.1:1",
        jobs=(JobConfig(job_id(0), modify_tasks=(task_id(0),)),),
    )


def exporter_registry(client: ReplayClient) -> tuple[CollectorRegistry, Collection]:
    stats = ApiStats(NAMES)
    collection = Collection(config(), client, stats, Targets(config().jobs))
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DtsCollector(collection, stats))
    return registry, collection


def floor_registry(families: Iterable[Metric]) -> CollectorRegistry:
    """Fresh GaugeMetricFamily (or counter) objects with the same names, HELP, labels and
    values as the exporter's, built once; histograms are reused as they are."""
    rebuilt: list[Metric] = []
    for family in families:
        if family.type in ("gauge", "counter"):
            cls = GaugeMetricFamily if family.type == "gauge" else CounterMetricFamily
            names = list(family.samples[0].labels) if family.samples else []
            copy = cls(family.name, family.documentation, labels=names)
            for sample in family.samples:
                copy.add_metric([sample.labels[n] for n in names], sample.value)
            rebuilt.append(copy)
        else:
            rebuilt.append(family)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Prebuilt(rebuilt))
    return registry


def one_job_snapshot(
    job: JobConfig,
    status: initialization.InitializationStatus,
    task: modify_status.ModifyStatus,
) -> Snapshot:
    now = time.time()
    target = Target(job.id)
    return Snapshot(
        region="cn-hangzhou",
        jobs=(job,),
        results=(
            Result(DESCRIBE_INITIALIZATION_STATUS, target, status, None, now),
            Result(DESCRIBE_MODIFY_STATUS, Target(job.id, task_id(0)), task, None, now),
        ),
        duration_seconds=0.5,
    )


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """CPU seconds (process_time, every thread) per call of fn, over `repeat` calls."""
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat


def phases(client: ReplayClient, stats: ApiStats, repeat: int) -> dict[str, float]:
    """The scrape's pipeline, single-threaded, one phase at a time (CPU seconds each)."""
    job = JobConfig(job_id(0), modify_tasks=(task_id(0),))
    body = initialization.request(client, job.id)
    task_raw = modify_status.request(client, task_id(0))
    status = initialization.parse(body)
    snapshot = one_job_snapshot(job, status, modify_status.parse(task_raw))
    families = build_families(snapshot, stats)
    rendered = CollectorRegistry(auto_describe=False)
    rendered.register(Prebuilt(families))
    return {
        "decode (json.loads + merge pages)": cpu(
            lambda: initialization.request(client, job.id), repeat
        ),
        "parse (records)": cpu(lambda: initialization.parse(body), repeat),
        "build (families)": cpu(lambda: build_families(snapshot, stats), repeat),
        "render (generate_latest of those families)": cpu(
            lambda: generate_latest(rendered), repeat
        ),
    }


def pipeline(client: ReplayClient, stats: ApiStats, scrapes: int) -> None:
    """The scrape's work, single-threaded, `scrapes` times: what --profile samples."""
    job = JobConfig(job_id(0), modify_tasks=(task_id(0),))
    task_status = modify_status.parse(modify_status.request(client, task_id(0)))
    for _ in range(scrapes):
        status = initialization.parse(initialization.request(client, job.id))
        snapshot = one_job_snapshot(job, status, task_status)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Prebuilt(build_families(snapshot, stats)))
        generate_latest(registry)


KEY_FUNCTIONS = (
    "describe_initialization_status",
    "decode_response",
    "parse_initialization_status",
    "build_families",
    "generate_latest",
)


def profile(tables: int, scrapes: int, top: int = 15) -> str:
    """py-spy (sampling at 1 kHz, no instrumentation) over `pipeline` in a child process;
    the top frames by self time (the leaf of each sample) and the key functions' totals."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.txt"
        subprocess.run(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--rate",
                "1000",
                "--format",
                "raw",
                "--function",
                "--output",
                str(raw),
                "--",
                sys.executable,
                __file__,
                "--pipeline",
                str(tables),
                "--scrapes",
                str(scrapes),
            ],
            check=True,
            capture_output=True,
        )
        stacks = [line.rpartition(" ") for line in raw.read_text().splitlines() if line]
    selfs: dict[str, int] = {}
    totals: dict[str, int] = {}
    samples = 0
    for stack, _, count_text in stacks:
        count = int(count_text)
        frames = stack.split(";")
        if not any(f.startswith("pipeline (") for f in frames):
            continue  # set-up: recording the pages, warming up
        samples += count
        leaf = re.sub(r"\(/.*/(site-packages|work/main)/", "(", frames[-1])
        selfs[leaf] = selfs.get(leaf, 0) + count
        for name in {f.partition(" (")[0].rpartition(".")[2] for f in frames}:
            totals[name] = totals.get(name, 0) + count
    samples = max(samples, 1)
    lines = [
        f"py-spy, {scrapes} scrapes of {tables:,} tables, {samples} samples at 1 kHz "
        "(single-threaded pipeline: decode, parse, build, generate_latest)",
        "",
        "| self % | frame (function, file:first line) |",
        "|---|---|",
    ]
    for where, count in sorted(selfs.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {100 * count / samples:.1f} | `{where}` |")
    lines += ["", "| total % | function |", "|---|---|"]
    for key in KEY_FUNCTIONS:
        lines.append(f"| {100 * totals.get(key, 0) / samples:.1f} | `{key}` |")
    return "\n".join(lines) + "\n"


def measure(tables: int, scrapes: int, runs: int, with_profile: bool) -> tuple[str, dict[str, Any]]:
    pages = recorded_pages(tables)
    task = render_json({**task_body(), "RequestId": "TASK", "Success": True})
    client = ReplayClient(pages, task)
    registry, collection = exporter_registry(client)
    text = generate_latest(registry)  # warm-up, and the reference output
    families = list(registry.collect())
    series = sum(len(f.samples) for f in families)
    table_series = TABLE_SERIES_PER_TABLE * tables
    floor = floor_registry(families)
    assert generate_latest(floor).count(b"\n") == text.count(b"\n"), "floor differs in size"
    exporter_runs, floor_runs = [], []
    gc.collect()
    for _ in range(runs):
        exporter_runs.append(cpu(lambda: generate_latest(registry), scrapes))
        floor_runs.append(cpu(lambda: generate_latest(floor), scrapes))
    stats = ApiStats(NAMES)
    phase = phases(client, stats, max(1, scrapes // 2))
    collection.close()
    e, f = median(exporter_runs), median(floor_runs)
    lines = [
        f"#### {tables:,} tables: {table_series:,} table series, {series:,} series in all, "
        f"{len(text) / 1e6:.1f} MB of exposition, {len(pages)} pages",
        "",
        "| what | CPU per scrape (median) | runs | per series | per table series |",
        "|---|---|---|---|---|",
        f"| exporter (decode + parse + build + generate_latest) | {e * 1000:.0f} ms "
        f"| {fmt_runs([x * 1000 for x in exporter_runs], '.0f')} ms "
        f"| {e / series * 1e6:.2f} µs | {e / table_series * 1e6:.2f} µs |",
        f"| floor: generate_latest of pre-built GaugeMetricFamily | {f * 1000:.0f} ms "
        f"| {fmt_runs([x * 1000 for x in floor_runs], '.0f')} ms "
        f"| {f / series * 1e6:.2f} µs | {f / table_series * 1e6:.2f} µs |",
        "",
        f"exporter / floor: **{e / f:.2f}x** (medians of the same run, {scrapes} scrapes per run)",
        "",
        "| phase (single-threaded) | CPU per scrape | per table |",
        "|---|---|---|",
    ]
    for name, seconds in phase.items():
        lines.append(f"| {name} | {seconds * 1000:.0f} ms | {seconds / tables * 1e6:.2f} µs |")
    lines.append("")
    if with_profile:
        lines.append(profile(tables, scrapes))
    data = {
        "tables": tables,
        "series": series,
        "table_series": table_series,
        "exporter_runs": exporter_runs,
        "floor_runs": floor_runs,
        "exporter": e,
        "floor": f,
        "ratio": e / f,
        "per_series_us": e / series * 1e6,
        "per_table_series_us": e / table_series * 1e6,
        "phases": phase,
    }
    return "\n".join(lines), data


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[4000, 20000])
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="py-spy's top frames")
    parser.add_argument("--pipeline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help="suffix for the output file names")
    args = parser.parse_args(argv)
    if args.pipeline:  # the child process --profile samples
        pages = recorded_pages(args.pipeline)
        task = render_json({**task_body(), "RequestId": "TASK", "Success": True})
        pipeline(ReplayClient(pages, task), ApiStats(NAMES), 1)  # warm-up
        pipeline(ReplayClient(pages, task), ApiStats(NAMES), args.scrapes)
        return ""
    parts = [header("Exporter CPU per series against the generate_latest floor")]
    results = []
    for tables in args.tables:
        text, data = measure(tables, args.scrapes, args.runs, args.profile)
        parts.append(text)
        results.append(data)
    parts.append(f"at end: {load()}\n")
    text = "\n".join(parts)
    suffix = f"-{args.label}" if args.label else ""
    write_out(f"cpu{suffix}.json", json.dumps(results, indent=2))
    write_out(f"cpu{suffix}.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
