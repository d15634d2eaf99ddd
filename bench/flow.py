"""Adaptive flow control (issue 13): collections behind a service that throttles.

Runs a simulator process whose flow control allows --rate calls per second per action
(bursts of --rate calls; past that, 400 Throttling.User) with every answer delayed by the
row's latency, and times `Collection.run()` at default settings with ONE client kept across
the collections (as the exporter keeps it across scrapes), so what the flow control learnt
in one scrape is where the next starts. Two rows:

- `single`: --single-jobs one-page jobs (no modify tasks) at 50 ms, three collections two
  seconds apart; goals for the third: every id read, <= 1.2x the flow floor, <= 10
  throttled answers;
- `large`: --jobs jobs x --tables tables + --jobs tasks at 200 ms, two collections (the
  first starts unconstrained, knowing nothing); goals: <= 1.15x the flow floor, throttled
  answers <= 5 % of calls.

Flow floor = max over actions of (calls of the action - burst) / rate: the service's buckets
are per action. Throttled answers are counted by the exporter
(`dts_exporter_api_requests_total{code="Throttling.User"}`) and checked against the
simulator's own count.

    .venv/bin/python bench/flow.py [--rate 20 --single-jobs 100 --jobs 200 --tables 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    AK,
    SECRET,
    Simulator,
    header,
    job_id,
    load,
    scenario,
    task_id,
    write_out,
)
from dts_exporter.actions import NAMES
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, JobConfig, JobStatusConfig, VerificationConfig
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import make_client

logging.getLogger("dts_exporter").setLevel(logging.ERROR)
THROTTLED = "Throttling.User"


def single_id(j: int) -> str:
    return f"dtssingle{j:04d}"


def flow_floor(calls: dict[str, int], rate: float) -> float:
    return max(max(0.0, (count - rate) / rate) for count in calls.values())


def throttled_counts(sim: Simulator) -> int:
    return sum(v for k, v in sim.counts().items() if k.endswith(f":{THROTTLED}"))


def row(
    sim: Simulator, jobs: tuple[JobConfig, ...], latency: float, rate: float, collections: int
) -> list[dict[str, Any]]:
    """`collections` collections with one client; per collection: seconds, calls per
    action (successful), throttled answers, ids that failed."""
    sim.set_latency(latency)
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        scrape_timeout_seconds=3600.0,
        timeout_seconds=60.0,
        jobs=jobs,
        # The scenario lists no job states or verifications to read: init and modify only.
        job_status=JobStatusConfig(enabled=False),
        verification=VerificationConfig(enabled=False),
    )
    stats = ApiStats(NAMES)
    collection = Collection(
        config,
        make_client(config, StaticProvider(Credentials(AK, SECRET)), stats),
        stats,
        Targets(config.jobs),
    )
    out: list[dict[str, Any]] = []
    try:
        for index in range(collections):
            if index:
                time.sleep(2.0)
            before = Counter(stats.requests())
            sim_before = throttled_counts(sim)
            started = time.perf_counter()
            snapshot = collection.run()
            seconds = time.perf_counter() - started
            made = Counter(stats.requests())
            made.subtract(before)
            calls: dict[str, int] = {}
            for (action, code), count in made.items():
                if code == "Success" and count:
                    calls[action] = calls.get(action, 0) + int(count)
            throttled = int(sum(c for (_, code), c in made.items() if code.startswith("Throttl")))
            failed = [r.error.code for r in snapshot.results if r.error]
            out.append(
                {
                    "seconds": seconds,
                    "calls": calls,
                    "floor": flow_floor(calls, rate),
                    "throttled": throttled,
                    "throttled_by_simulator": throttled_counts(sim) - sim_before,
                    "attempts": int(sum(made.values())),
                    "ids": len(snapshot.results),
                    "failed": len(failed),
                    "codes": sorted(set(failed)),
                    "rates": {f"{k[0]}/{k[1]}": round(v, 2) for k, v in stats_rates(stats)},
                }
            )
    finally:
        collection.close()
    return out


def stats_rates(stats: ApiStats) -> list[tuple[tuple[str, str], float]]:
    flow = stats.flow_control(Config.max_requests_per_second)
    return sorted(flow.rates().items())


def line(name: str, result: dict[str, Any]) -> str:
    ratio = result["seconds"] / result["floor"] if result["floor"] else float("nan")
    share = result["throttled"] / max(1, result["attempts"])
    return (
        f"| {name} | {result['seconds']:.2f} s | {result['floor']:.2f} s | {ratio:.2f}x "
        f"| {result['throttled']} ({share:.1%} of {result['attempts']} attempts) "
        f"| {result['ids'] - result['failed']} of {result['ids']} "
        f"| {', '.join(f'{k} {v:g}' for k, v in result['rates'].items()) or '-'} |"
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--single-jobs", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    rate = args.rate
    with tempfile.TemporaryDirectory() as tmp:
        data = scenario(max(args.jobs, args.single_jobs), args.tables)
        for j in range(args.single_jobs):  # the single-page jobs: no tables, one page each
            data["jobs"][single_id(j)] = {"DataInitializationDetails": []}
        data["flow_control"] = {"requests_per_second": rate, "burst": rate}
        path = Path(tmp) / "scenario.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        started_load = load()
        sim = Simulator(path)
        try:
            singles = tuple(JobConfig(single_id(j)) for j in range(args.single_jobs))
            single = row(sim, singles, 0.05, rate, 3)
            large_jobs = tuple(
                JobConfig(job_id(j), modify_tasks=(task_id(j),)) for j in range(args.jobs)
            )
            large = [] if args.skip_large else row(sim, large_jobs, 0.2, rate, 2)
        finally:
            sim.close()
        ended_load = load()
    lines = [
        header("Adaptive flow control behind a service that throttles (issue 13)"),
        f"simulator flow control: {rate:g} calls/s per action, bursts of {rate:g}; "
        f"default settings (concurrency {Config.concurrency}, max_requests_per_second "
        f"{Config.max_requests_per_second:g}), one client across the collections; "
        f"at end: {ended_load} (start: {started_load})\n",
        "| collection | time | flow floor | vs floor | throttled answers | ids read "
        "| learnt rate at end (calls/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for index, result in enumerate(single, 1):
        lines.append(line(f"{args.single_jobs} single-page jobs, 50 ms, #{index}", result))
    for index, result in enumerate(large, 1):
        name = f"{args.jobs}x{args.tables}+{args.jobs}, 200 ms, #{index}"
        lines.append(line(name, result))
    text = "\n".join(lines) + "\n"
    write_out("flow.json", json.dumps({"single": single, "large": large}, indent=2))
    write_out("flow.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
