"""2,000 jobs split over 4 shards: each shard's jobs, API calls and collection time.

A simulator process holds --jobs jobs of --tables tables (one page each), every answer
delayed by --latency. Each shard is what one replica started with `--shard-index I
--shard-count 4` collects: `Collection(..., shard=(I, 4))` at default settings (its own
16-call pool and 40 req/s token bucket, the default 25 s scrape timeout), timed --runs
times. For comparison, one unsharded replica collecting every job: at the default scrape
timeout, and with the timeout raised so that it finishes.

    .venv/bin/python bench/shards.py [--jobs 2000 --tables 10 --latency 0.2 --runs 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.collection import DEFAULT_RATE, DEFAULT_TIMEOUT, collect
from bench.common import (
    fmt_runs,
    header,
    load,
    median,
    pages,
    scenario,
    simulator,
    write_out,
)
from dts_exporter.config import Config

SHARDS = 4


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--tables", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    per_job = pages(args.tables)
    shards: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), scenario(args.jobs, args.tables, tasks=0), args.latency) as sim,
    ):
        for index in range(SHARDS):
            runs = []
            for _ in range(args.runs):
                before = sim.total()
                result = collect(
                    sim.url, 0, job_count=args.jobs, shard=(index, SHARDS), timeout=DEFAULT_TIMEOUT
                )
                result["simulator_calls"] = sim.total() - before
                if result["failed"]:
                    raise SystemExit(f"shard {index}: {result}")
                runs.append(result)
            shards.append({"index": index, "runs": runs})
        whole_cut = collect(sim.url, 0, job_count=args.jobs, timeout=DEFAULT_TIMEOUT)
        whole = collect(sim.url, 0, job_count=args.jobs)
    concurrency = Config.concurrency
    lines = [
        header(f"{args.jobs:,} jobs over {SHARDS} shards"),
        f"{args.jobs:,} jobs of {args.tables} tables ({per_job} page each, no modify tasks), "
        f"{args.latency * 1000:.0f} ms latency per call, default settings per replica "
        f"(concurrency {concurrency}, {DEFAULT_RATE:g} req/s, scrape timeout "
        f"{DEFAULT_TIMEOUT:g} s); {args.runs} runs per shard, one shard at a time\n",
        "| shard | jobs | API calls per collection | median collection time | runs "
        "| latency floor | rate floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for shard in shards:
        runs = shard["runs"]
        calls = runs[0]["calls"]
        latency_floor = args.latency * math.ceil(calls / concurrency)
        rate_floor = max(0.0, (calls - DEFAULT_RATE) / DEFAULT_RATE)
        seconds = [r["seconds"] for r in runs]
        lines.append(
            f"| {shard['index']} | {runs[0]['jobs']} | {calls} | {median(seconds):.2f} s "
            f"| {fmt_runs(seconds)} | {latency_floor:.2f} s | {rate_floor:.2f} s |"
        )
    total_jobs = sum(s["runs"][0]["jobs"] for s in shards)
    total_calls = sum(s["runs"][0]["calls"] for s in shards)
    lines += [
        f"| all shards | {total_jobs} | {total_calls} | | | | |",
        "",
        f"one unsharded replica, {args.jobs:,} jobs ({whole['calls']} calls, rate floor "
        f"{(whole['calls'] - DEFAULT_RATE) / DEFAULT_RATE:.1f} s): "
        f"{whole['seconds']:.1f} s with the scrape timeout raised; at the default "
        f"{DEFAULT_TIMEOUT:g} s, {whole_cut['failed']} of {whole_cut['ids']} jobs read "
        f"dts_up 0 (codes {', '.join(whole_cut['codes']) or 'none'}) after "
        f"{whole_cut['seconds']:.1f} s",
        "",
        f"at end: {load()}",
        "",
    ]
    text = "\n".join(lines)
    write_out(
        "shards.json", json.dumps({"shards": shards, "whole": whole, "cut": whole_cut}, indent=2)
    )
    write_out("shards.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
