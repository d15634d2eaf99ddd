"""Collection time against the API-latency floor, and against calling one id at a time.

Runs a simulator process (scenario: N jobs x M tables + K modify tasks, every answer delayed
by --latency) and times `Collection.run()`, the work one scrape does, at the configured
concurrency and at concurrency 1 (what a user gets calling the API one call at a time).
Prints medians of --runs runs and the ratio, as a Markdown table.

    .venv/bin/python bench/collection.py [--jobs 40 --tables 250 --latency 0.2 --runs 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from dts_exporter.api_stats import ApiStats
from dts_exporter.client import ACTIONS, PAGE_SIZE
from dts_exporter.collector import Collection
from dts_exporter.config import Config, JobConfig
from dts_exporter.credentials import Credentials, StaticProvider
from dts_exporter.exporter import make_client
from dts_exporter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET


def scenario(jobs: int, tables: int) -> dict[str, object]:
    def table(j: int, t: int) -> dict[str, str]:
        return {
            "SourceOwnerDBName": f"db{j}",
            "DestinationOwnerDBName": f"db{j}",
            "TableName": f"table_{t:05d}",
            "Status": "Migrating" if t % 3 else "Finished",
            "TotalRowNum": str(100_000 + t),
            "FinishRowNum": str(50_000 + t),
            "UsedTime": "120.0",
        }

    return {
        "jobs": {
            f"dtsbench{j:04d}": {"DataInitializationDetails": [table(j, t) for t in range(tables)]}
            for j in range(jobs)
        },
        "tasks": {
            f"taskbench{j:04d}": {
                "Status": "Migrating",
                "DataInitializationStatus": {
                    "Status": "Migrating",
                    "Percent": "40",
                    "Progress": "1234",
                },
            }
            for j in range(jobs)
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(path: Path, latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dts_exporter",
            "simulate",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--scenario",
            str(path),
            "--log-level",
            "error",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(f"{url}/_simulator/requests", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    faults = {"*": [{"kind": "latency", "seconds": latency}]}
    requests.put(f"{url}/_simulator/faults", data=json.dumps(faults), timeout=5).raise_for_status()
    return proc, url


def time_collection(url: str, jobs: int, concurrency: int) -> tuple[float, int]:
    config = Config(
        region="cn-hangzhou",
        endpoint=url,
        concurrency=concurrency,
        scrape_timeout_seconds=3600,
        timeout_seconds=60,
        jobs=tuple(
            JobConfig(f"dtsbench{j:04d}", modify_tasks=(f"taskbench{j:04d}",)) for j in range(jobs)
        ),
    )
    stats = ApiStats(ACTIONS)
    creds = StaticProvider(Credentials(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET))
    collection = Collection(config, make_client(config, creds, stats), stats)
    try:
        started = time.perf_counter()
        snapshot = collection.run()
        elapsed = time.perf_counter() - started
    finally:
        collection.close()
    failed = [j.job.id for j in snapshot.jobs if j.error] + [
        t.task_id for t in snapshot.tasks if t.error
    ]
    if failed:
        raise SystemExit(f"collection had failures: {failed[:5]}")
    return elapsed, sum(stats.requests().values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=Config.concurrency)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        path.write_text(json.dumps(scenario(args.jobs, args.tables)))
        proc, url = start_simulator(path, args.latency)
        try:
            pages = max(1, math.ceil((args.tables + 1) / PAGE_SIZE))
            calls = args.jobs * pages + args.jobs
            floor = args.latency * math.ceil(calls / args.concurrency)
            concurrent, sequential = [], []
            for _ in range(args.runs):
                seconds, counted = time_collection(url, args.jobs, args.concurrency)
                assert counted == calls, (counted, calls)
                concurrent.append(seconds)
                sequential.append(time_collection(url, args.jobs, 1)[0])
        finally:
            proc.terminate()
            proc.wait()

    c, s = statistics.median(concurrent), statistics.median(sequential)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"workload: {args.jobs} jobs x {args.tables} tables + {args.jobs} tasks = "
        f"{calls} API calls ({pages} pages per job), "
        f"{args.latency * 1000:.0f} ms latency per call, {args.runs} runs"
    )
    print()
    print("| mode | median collection time | runs |")
    print("|---|---|---|")
    print(
        f"| latency floor at concurrency {args.concurrency} (latency x ceil(calls / concurrency)) "
        f"| {floor:.2f} s | |"
    )
    print(
        f"| dts-exporter, concurrency {args.concurrency} | {c:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in concurrent)} |"
    )
    runs = ", ".join(f"{x:.2f}" for x in sequential)
    print(f"| one call at a time (concurrency 1) | {s:.2f} s | {runs} |")
    print()
    print(
        f"speed-up over one at a time: {s / c:.1f}x (same run); "
        f"distance from floor: {c / floor:.2f}x"
    )


if __name__ == "__main__":
    main()
