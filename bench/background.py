"""Pipelined paging and background collection (issue 13).

Two parts, each against `dts-exporter simulate` as a separate process with every answer
delayed by --latency:

- `pipeline`: `Collection.run()` in this process (the work one scrape does) at default
  settings, the first collection of a fresh exporter (no page counts known: pages one after
  another) and the next one (each job's pages asked for at once), modes alternated over
  --runs runs; one call at a time (concurrency 1, the next collection) and the official
  SDK through a ThreadPoolExecutor(16) paging by hand (`bench/sdk.py`) for comparison.
  Workloads: --jobs x --tables + --jobs tasks (the issue-6 row), and --big-jobs jobs of
  --big-tables tables (many pages per job, where pipelining shows). Job state and data
  verification are off, so that every collection makes the same calls (those of the
  issue-6 row: pages of every job + one per task).
- `background`: `dts-exporter serve` as a process with `collection_interval_seconds`,
  --bg-jobs x --bg-tables + --bg-jobs tasks at default settings (`table_metrics: none`:
  a million per-table series would measure the exposition, not the collection), scraped
  every --every seconds for --duration seconds: each scrape's answer time, and the age of
  every id's dts_last_refresh_timestamp_seconds (DescribeCheckJobs is re-checked every
  verification.refresh_seconds, 300 s, by design: reported apart).

    .venv/bin/python bench/background.py [--part pipeline|background|both]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    AK,
    SECRET,
    Exporter,
    base_config,
    fmt_runs,
    header,
    job_id,
    load,
    median,
    pages,
    scenario,
    simulator,
    task_id,
    write_out,
)
from bench.sdk import sdk_collection
from dts_exporter.actions import NAMES
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.config.model import JobStatusConfig, VerificationConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import make_client

logging.getLogger("dts_exporter").setLevel(logging.ERROR)


def collections(url: str, jobs: int, count: int, concurrency: int = 16) -> list[dict[str, Any]]:
    """`count` collections by one exporter: seconds, calls and failed ids of each."""
    config = Config(
        region="cn-hangzhou",
        endpoint=url,
        concurrency=concurrency,
        scrape_timeout_seconds=3600.0,
        timeout_seconds=60.0,
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
        jobs=tuple(JobConfig(job_id(j), modify_tasks=(task_id(j),)) for j in range(jobs)),
    )
    stats = ApiStats(NAMES)
    creds = StaticProvider(Credentials(AK, SECRET))
    collection = Collection(config, make_client(config, creds, stats), stats, Targets(config.jobs))
    out: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            before = sum(stats.requests().values())
            started = time.perf_counter()
            snapshot = collection.run()
            elapsed = time.perf_counter() - started
            failed = [r.error.code for r in snapshot.results if r.error]
            calls = sum(stats.requests().values()) - before
            out.append({"seconds": elapsed, "calls": calls, "failed": failed})
    finally:
        collection.close()
    return out


def pipeline(jobs: int, tables: int, latency: float, runs: int, slow: bool) -> list[str]:
    concurrency = Config.concurrency
    calls = jobs * pages(tables) + jobs
    floor = latency * math.ceil(calls / concurrency)
    modes: dict[str, list[float]] = {"first": [], "next": []}
    if slow:
        modes.update({"one at a time": [], "sdk16": []})
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), scenario(jobs, tables), latency) as sim,
    ):
        started_load = load()
        for run in range(runs):
            first, following = collections(sim.url, jobs, 2)
            for name, result in (("first", first), ("next", following)):
                if result["failed"] or result["calls"] != calls:
                    raise SystemExit(f"{name}: {result}, expected {calls} calls and no failure")
                modes[name].append(result["seconds"])
            if slow and run == 0:  # 30 s or more each: once
                modes["one at a time"].append(
                    collections(sim.url, jobs, 2, concurrency=1)[1]["seconds"]
                )
                modes["sdk16"].append(sdk_collection(sim.url, jobs, 16)[0])
        ended_load = load()
    med = {mode: median(values) for mode, values in modes.items() if values}
    lines = [
        header(f"Pipelined paging: {jobs} jobs x {tables} tables + {jobs} tasks"),
        f"workload: {calls} API calls ({pages(tables)} pages per job + 1 per task), "
        f"{latency * 1000:.0f} ms latency per call, default settings (concurrency "
        f"{concurrency}, max_requests_per_second {Config.max_requests_per_second:g}); "
        f"at end: {ended_load} (start: {started_load})\n",
        "| mode | median | runs | vs latency floor |",
        "|---|---|---|---|",
        f"| latency floor ({latency:g} s x ceil({calls} / {concurrency})) | {floor:.2f} s | | |",
        f"| first collection (page counts unknown: one after another) | {med['first']:.2f} s "
        f"| {fmt_runs(modes['first'])} | {med['first'] / floor:.2f}x |",
        f"| next collection (pages asked for at once) | {med['next']:.2f} s "
        f"| {fmt_runs(modes['next'])} | {med['next'] / floor:.2f}x |",
    ]
    if slow:
        lines += [
            f"| one call at a time (concurrency 1) | {med['one at a time']:.2f} s "
            f"| {fmt_runs(modes['one at a time'])} | |",
            f"| official SDK, ThreadPoolExecutor(16), paging by hand | {med['sdk16']:.2f} s "
            f"| {fmt_runs(modes['sdk16'])} | {med['sdk16'] / floor:.2f}x |",
            "",
            f"next collection: {med['one at a time'] / med['next']:.1f}x faster than one call "
            f"at a time, {med['sdk16'] / med['next']:.2f}x faster than the SDK pool",
        ]
    return [*lines, ""]


def scrape(url: str) -> tuple[float, float, dict[tuple[str, str, str], tuple[float, float]]]:
    """(answer seconds, wall time, {(action, job, task): (dts_up, refresh timestamp)})."""
    started = time.perf_counter()
    answer = requests.get(f"{url}/metrics", timeout=120)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    ids: dict[tuple[str, str, str], list[float]] = {}
    stamp = math.nan
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            if s.name == "dts_exporter_background_collection_timestamp_seconds":
                stamp = s.value
            if s.name in ("dts_up", "dts_last_refresh_timestamp_seconds"):
                key = (s.labels["action"], s.labels["job_id"], s.labels["task_id"])
                slot = ids.setdefault(key, [math.nan, math.nan])
                slot[0 if s.name == "dts_up" else 1] = s.value
    return elapsed, stamp, {key: (up, at) for key, (up, at) in ids.items()}


def listed(jobs: int) -> dict[str, list[dict[str, Any]]]:
    """The scenario's `dts_jobs`: every job listed as running, as a real account lists it."""
    return {
        "cn-hangzhou": [
            {
                "DtsInstanceID": job_id(j),
                "DtsJobId": f"job-{job_id(j)}",
                "DtsJobName": job_id(j),
                "JobType": "SYNC",
                "Status": "Synchronizing",
                "Delay": 1,
                "Checkpoint": "1790000000",
            }
            for j in range(jobs)
        ]
    }


def background(
    jobs: int, tables: int, latency: float, interval: float, every: float, duration: float
) -> list[str]:
    rows: list[dict[str, Any]] = []
    fleet = {**scenario(jobs, tables), "dts_jobs": listed(jobs)}
    with tempfile.TemporaryDirectory() as tmp, simulator(Path(tmp), fleet, latency) as sim:
        config = base_config(
            sim.url, jobs, collection_interval_seconds=interval, table_metrics="none"
        )
        started_load = load()
        exporter = Exporter(config, Path(tmp))
        began = time.time()  # the exporter answers /healthz: its first collection is under way
        try:
            while time.time() - began < duration:
                tick = time.monotonic()
                elapsed, stamp, ids = scrape(exporter.url)
                now = time.time()
                rows.append(
                    {"at": now - began, "seconds": elapsed, "stamp": stamp, "ids": ids, "now": now}
                )
                time.sleep(max(0.0, every - (time.monotonic() - tick)))
            calls = sim.total()
        finally:
            exporter.close()
        ended_load = load()
    stamps = sorted({r["stamp"] for r in rows if r["stamp"] > 0})
    first = stamps[0] if stamps else math.inf
    # Scrapes begun before the first collection completed waited for it (or got none).
    early = [r for r in rows if r["now"] - r["seconds"] < first]
    ready = [r for r in rows if r["now"] - r["seconds"] >= first]
    worst_age = 0.0
    worst_check = 0.0
    down: dict[str, int] = {}
    for r in ready:
        for (action, _, _), (up, at) in r["ids"].items():
            age = r["now"] - at
            if action == "DescribeCheckJobs":
                worst_check = max(worst_check, age)
            else:
                worst_age = max(worst_age, age)
            if up != 1:
                down[action] = down.get(action, 0) + 1
    id_count = max((len(r["ids"]) for r in ready), default=0)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    answer = [r["seconds"] for r in ready]
    typical, slowest = (median(answer), max(answer)) if answer else (math.nan, math.nan)
    first_done = first - began if stamps else math.nan
    return [
        header(f"Background collection: {jobs} jobs x {tables} tables + {jobs} tasks"),
        f"`dts-exporter serve` with collection_interval_seconds: {interval:g}, table_metrics: "
        f"none, other settings default; {latency * 1000:.0f} ms latency per call; scraped every "
        f"{every:g} s for {duration:g} s; {calls} API calls in all; at end: {ended_load} "
        f"(start: {started_load})\n",
        "| measure | value |",
        "|---|---|",
        f"| scrapes after the first collection completed | {len(ready)} |",
        f"| their answer time: median / slowest | {typical:.3f} s / {slowest:.3f} s |",
        f"| scrapes begun before it (each waits for it at most 0.5 s, then is answered without it) "
        f"| {len(early)}: {fmt_runs([r['seconds'] for r in early], '.1f')} s, "
        f"{sum(r['stamp'] == 0 for r in early)} served no DTS series |",
        f"| first collection completed | {first_done:.1f} s after the exporter answered |",
        f"| background collections seen / gaps between them "
        f"| {len(stamps)} / {fmt_runs(gaps, '.1f')} s |",
        f"| ids per scrape / samples of dts_up != 1 by action | {id_count} / {down or 'none'} |",
        f"| oldest dts_last_refresh_timestamp_seconds of any id at any scrape "
        f"(2 intervals = {2 * interval:g} s) | {worst_age:.1f} s |",
        f"| same for DescribeCheckJobs (its own 300 s cadence) | {worst_check:.1f} s |",
        "",
    ]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--part", choices=("pipeline", "background", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--big-jobs", type=int, default=4)
    parser.add_argument("--big-tables", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bg-jobs", type=int, default=200)
    parser.add_argument("--bg-tables", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=240.0)
    args = parser.parse_args(argv)
    lines: list[str] = []
    if args.part in ("pipeline", "both"):
        lines += pipeline(args.jobs, args.tables, args.latency, args.runs, slow=True)
        lines += pipeline(args.big_jobs, args.big_tables, args.latency, args.runs, slow=False)
    if args.part in ("background", "both"):
        lines += background(
            args.bg_jobs, args.bg_tables, args.latency, args.interval, args.every, args.duration
        )
    text = "\n".join(lines)
    write_out(f"background-{args.part}.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
