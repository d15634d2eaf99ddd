"""Collection time against the latency floor and the rate floor, and against one call at a time.

Runs a simulator process (scenario: N jobs x M tables + N modify tasks, every answer delayed
by --latency) and times `Collection.run()`, the work one scrape does (all pages of every
job, every task, parsing), in these modes, alternated within each run:

- `default`: the default settings (concurrency 16, max_requests_per_second 40 with a burst
  of one second's worth); only scrape_timeout_seconds is raised so that the collection can
  finish and be timed;
- `rate off`: the same with `max_requests_per_second: 0`;
- `one at a time` (with --sequential): concurrency 1, rate limit off: what a user's loop
  over the ids gets from the same client and parser.

Floors: latency floor = latency x ceil(calls / concurrency); rate floor = (calls - burst) /
rate. When the default scrape_timeout_seconds (25 s) cannot hold the rate floor, one more
collection at the default timeout says how many ids made it.

    .venv/bin/python bench/collection.py [--jobs 40 --tables 250 --latency 0.2 --runs 3
                                          --sequential]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    AK,
    SECRET,
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
from dts_exporter.actions import NAMES
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, JobConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import make_client

# The timed-out collections log one warning per id; the tables say how many.
logging.getLogger("dts_exporter").setLevel(logging.ERROR)

DEFAULT_RATE = Config.max_requests_per_second
DEFAULT_TIMEOUT = Config.scrape_timeout_seconds


def collect(
    url: str,
    jobs: int,
    *,
    concurrency: int = Config.concurrency,
    rate: float = DEFAULT_RATE,
    timeout: float = 3600.0,
    shard: tuple[int, int] | None = None,
    job_count: int | None = None,
) -> dict[str, Any]:
    """One Collection.run(): seconds, API calls counted by the client, ids done/failed."""
    config = Config(
        region="cn-hangzhou",
        endpoint=url,
        concurrency=concurrency,
        max_requests_per_second=rate,
        scrape_timeout_seconds=timeout,
        timeout_seconds=min(60.0, timeout),
        jobs=tuple(JobConfig(job_id(j), modify_tasks=(task_id(j),)) for j in range(jobs))
        + tuple(JobConfig(job_id(j)) for j in range(jobs, job_count or jobs)),
    )
    stats = ApiStats(NAMES)
    creds = StaticProvider(Credentials(AK, SECRET))
    targets = Targets(config.jobs, shard=shard)
    collection = Collection(config, make_client(config, creds, stats), stats, targets)
    try:
        started = time.perf_counter()
        snapshot = collection.run()
        elapsed = time.perf_counter() - started
    finally:
        collection.close()
    errors = [r.error.code for r in snapshot.results if r.error]
    return {
        "seconds": elapsed,
        "calls": sum(stats.requests().values()),
        "jobs": len(snapshot.jobs),
        "ids": len(snapshot.results),
        "failed": len(errors),
        "codes": sorted(set(errors)),
    }


def run(
    jobs: int, tables: int, latency: float, runs: int, sequential: bool
) -> tuple[str, dict[str, Any]]:
    concurrency = Config.concurrency
    calls = jobs * pages(tables) + jobs
    latency_floor = latency * math.ceil(calls / concurrency)
    burst = max(1.0, DEFAULT_RATE)
    # No default ceiling (issue 13: max_requests_per_second defaults to 0): no rate floor.
    rate_floor = max(0.0, (calls - burst) / DEFAULT_RATE) if DEFAULT_RATE > 0 else 0.0
    bound = max(latency_floor, rate_floor)
    modes: dict[str, list[float]] = {"default": [], "rate off": []}
    if sequential:
        modes["one at a time"] = []
    cut: dict[str, Any] | None = None
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), scenario(jobs, tables), latency) as sim,
    ):
        started_load = load()
        for _ in range(runs):
            for mode, values in modes.items():
                if mode == "default":
                    result = collect(sim.url, jobs)
                elif mode == "rate off":
                    result = collect(sim.url, jobs, rate=0)
                else:
                    result = collect(sim.url, jobs, concurrency=1, rate=0)
                if result["failed"] or result["calls"] != calls:
                    raise SystemExit(f"{mode}: unexpected result {result}, expected {calls} calls")
                values.append(result["seconds"])
        if rate_floor > DEFAULT_TIMEOUT:
            cut = collect(sim.url, jobs, timeout=DEFAULT_TIMEOUT)
        ended_load = load()

    med = {mode: median(values) for mode, values in modes.items()}
    lines = [
        header(f"Collection time: {jobs} jobs x {tables} tables + {jobs} tasks"),
        f"workload: {calls} API calls ({pages(tables)} pages per job + 1 per task), "
        f"{latency * 1000:.0f} ms latency per call, {runs} run(s), modes alternated; "
        f"at end: {ended_load} (start: {started_load})\n",
        "| mode | median collection time | runs | vs its floor |",
        "|---|---|---|---|",
        f"| latency floor (latency x ceil({calls} / {concurrency})) | {latency_floor:.2f} s | | |",
        f"| rate floor (({calls} - {burst:g}) / {DEFAULT_RATE:g}/s) | {rate_floor:.2f} s | | |",
        f"| default settings (concurrency {concurrency}, {DEFAULT_RATE:g} req/s) "
        f"| {med['default']:.2f} s | {fmt_runs(modes['default'])} "
        f"| {med['default'] / bound:.2f}x max(floors), "
        f"{med['default'] / latency_floor:.2f}x latency floor |",
        f"| rate limit off (max_requests_per_second: 0) | {med['rate off']:.2f} s "
        f"| {fmt_runs(modes['rate off'])} | {med['rate off'] / latency_floor:.2f}x latency floor |",
    ]
    if sequential:
        seq = med["one at a time"]
        lines.append(
            f"| one call at a time (concurrency 1, no rate limit) | {seq:.2f} s "
            f"| {fmt_runs(modes['one at a time'])} | {seq / (latency * calls):.2f}x "
            f"latency x calls ({latency * calls:.1f} s) |"
        )
    lines.append("")
    if sequential:
        lines.append(
            f"speed-up over one call at a time (medians, same run): "
            f"default {med['one at a time'] / med['default']:.1f}x, "
            f"rate off {med['one at a time'] / med['rate off']:.1f}x"
        )
    if cut is not None:
        lines.append(
            f"at the default scrape_timeout_seconds ({DEFAULT_TIMEOUT:g} s) the rate limit "
            f"cannot fit {calls} calls: {cut['failed']} of {cut['ids']} ids read dts_up 0 "
            f"(codes {', '.join(cut['codes'])}) after {cut['seconds']:.1f} s, "
            f"{cut['calls']} calls made"
        )
    text = "\n".join(lines) + "\n"
    data = {
        "jobs": jobs,
        "tables": tables,
        "latency": latency,
        "calls": calls,
        "latency_floor": latency_floor,
        "rate_floor": rate_floor,
        "runs": modes,
        "medians": med,
        "default_timeout_cut": cut,
    }
    return text, data


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sequential", action="store_true", help="also one call at a time")
    parser.add_argument("--label", default="", help="suffix for the output file names")
    args = parser.parse_args(argv)
    text, data = run(args.jobs, args.tables, args.latency, args.runs, args.sequential)
    name = f"collection-{args.jobs}x{args.tables}{'-' + args.label if args.label else ''}"
    write_out(f"{name}.json", json.dumps(data, indent=2))
    write_out(f"{name}.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
