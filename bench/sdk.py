"""dts-exporter's client against the official SDK (`alibabacloud-dts20200101`).

Against the same simulator process (signature v3, the SDK's default, on both sides):

- per-call client CPU: `time.process_time()` of this process over --calls calls of the same
  request (DescribeInitializationStatus, one page of 100 tables; and the small
  DescribeSynchronizationObjectModifyStatus), no latency; dts-exporter's `DtsClient.call`
  (a dict) and `.call` + `parse_initialization_status` (typed records) against the SDK's
  `*_with_options` (its model objects), alternated over --runs runs;
- collection time for --jobs jobs x --tables tables + --jobs tasks with every answer delayed
  by --latency: the SDK driven one call at a time and through a ThreadPoolExecutor(16),
  paging by hand as a user would (PageNum 1, 2, ... until a short page), against
  dts-exporter's `Collection.run()` at default settings and with the rate limit off; modes
  alternated within each run.

    .venv/bin/python bench/sdk.py [--calls 300 --runs 3 --jobs 40 --tables 250 --latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alibabacloud_dts20200101 import models as dts_models
from alibabacloud_dts20200101.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import RuntimeOptions

from bench.collection import collect
from bench.common import (
    AK,
    SECRET,
    Simulator,
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
from dts_exporter.actions import initialization
from dts_exporter.actions.initialization import PAGE_SIZE
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.credentials import Credentials, StaticProvider
from dts_exporter.config import Config
from dts_exporter.wire.client import DtsClient

REGION = "cn-hangzhou"


def sdk_client(url: str) -> Any:
    config = open_api_models.Config(
        access_key_id=AK,
        access_key_secret=SECRET,
        endpoint=url.removeprefix("http://"),
        protocol="http",
        region_id=REGION,
        read_timeout=60000,
        connect_timeout=5000,
    )
    return Client(config)


def runtime() -> Any:
    return RuntimeOptions(read_timeout=60000, connect_timeout=5000)


def sdk_page(client: Any, job: str, page: int) -> Any:
    request = dts_models.DescribeInitializationStatusRequest(
        synchronization_job_id=job, region_id=REGION, page_num=page, page_size=PAGE_SIZE
    )
    return client.describe_initialization_status_with_options(request, runtime())


def sdk_task(client: Any, task: str) -> Any:
    request = dts_models.DescribeSynchronizationObjectModifyStatusRequest(
        task_id=task, region_id=REGION
    )
    return client.describe_synchronization_object_modify_status_with_options(request, runtime())


def sdk_job(client: Any, job: str) -> list[Any]:
    """Every table of a job, paging by hand as a user would."""
    tables: list[Any] = []
    page = 1
    while True:
        body = sdk_page(client, job, page).body
        if not body.success:
            raise RuntimeError(f"{job}: {body.err_code}")
        items = body.data_initialization_details or []
        tables.extend(items)
        if len(items) < PAGE_SIZE:
            return tables
        page += 1


def our_client(url: str) -> DtsClient:
    return DtsClient(
        region=REGION,
        endpoint=url,
        credentials=StaticProvider(Credentials(AK, SECRET)),
        timeout_seconds=60,
        pool_size=Config.concurrency,
    )


def cpu_per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call."""
    fn()  # warm: connection, imports
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def per_call(sim: Simulator, calls: int, runs: int) -> tuple[list[str], dict[str, Any]]:
    ours, sdk = our_client(sim.url), sdk_client(sim.url)
    page = {"SynchronizationJobId": job_id(0), "PageSize": str(PAGE_SIZE), "PageNum": "1"}
    modes: dict[str, Callable[[], object]] = {
        "dts-exporter DtsClient.call, page of 100 tables (dict)": lambda: ours.call(
            DESCRIBE_INITIALIZATION_STATUS, page
        ),
        "dts-exporter DtsClient.call + parse_initialization_status (records)": lambda: (
            initialization.parse(ours.call(DESCRIBE_INITIALIZATION_STATUS, page))
        ),
        "SDK describe_initialization_status_with_options, page of 100 tables (models)": (
            lambda: sdk_page(sdk, job_id(0), 1)
        ),
        "dts-exporter DtsClient.call, modify status (small answer)": lambda: ours.call(
            DESCRIBE_MODIFY_STATUS, {"TaskId": task_id(0)}
        ),
        "SDK describe_synchronization_object_modify_status_with_options (small answer)": (
            lambda: sdk_task(sdk, task_id(0))
        ),
    }
    cpu: dict[str, list[float]] = {name: [] for name in modes}
    wall: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(runs):
        for name, fn in modes.items():
            c, w = cpu_per_call(fn, calls)
            cpu[name].append(c)
            wall[name].append(w)
    ours.close()
    med = {name: median(values) for name, values in cpu.items()}
    names = list(modes)
    lines = [
        f"#### Per-call client CPU ({calls} calls per run, {runs} runs, no latency)",
        "",
        "| client and call | CPU per call (median) | runs | wall per call |",
        "|---|---|---|---|",
    ]
    for name in names:
        lines.append(
            f"| {name} | {med[name] * 1e6:.0f} µs "
            f"| {fmt_runs([x * 1e6 for x in cpu[name]], '.0f')} µs "
            f"| {median(wall[name]) * 1e3:.2f} ms |"
        )
    page_ratio = med[names[2]] / med[names[0]]
    parsed_ratio = med[names[2]] / med[names[1]]
    small_ratio = med[names[4]] / med[names[3]]
    lines += [
        "",
        f"SDK / dts-exporter CPU per call: page of 100 tables {page_ratio:.2f}x "
        f"({parsed_ratio:.2f}x counting our parsing into records), "
        f"small answer {small_ratio:.2f}x",
        "",
    ]
    return lines, {"cpu": cpu, "wall": wall, "medians": med}


def sdk_collection(url: str, jobs: int, workers: int) -> tuple[float, int]:
    client = sdk_client(url)
    started = time.perf_counter()
    if workers <= 1:
        tables = sum(len(sdk_job(client, job_id(j))) for j in range(jobs))
        for j in range(jobs):
            sdk_task(client, task_id(j))
    else:
        with ThreadPoolExecutor(workers) as pool:
            job_futures = [pool.submit(sdk_job, client, job_id(j)) for j in range(jobs)]
            task_futures = [pool.submit(sdk_task, client, task_id(j)) for j in range(jobs)]
            tables = sum(len(f.result()) for f in job_futures)
            for f in task_futures:
                f.result()
    return time.perf_counter() - started, tables


def collection(
    sim: Simulator, jobs: int, tables: int, latency: float, runs: int
) -> tuple[list[str], dict[str, Any]]:
    calls = jobs * pages(tables) + jobs
    concurrency = Config.concurrency
    floor = latency * math.ceil(calls / concurrency)
    names = (
        "SDK, one call at a time",
        "SDK, ThreadPoolExecutor(16)",
        "dts-exporter, default settings",
        "dts-exporter, rate limit off",
    )
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):
        for name, values in times.items():
            before = sim.total()
            if name.startswith("SDK"):
                seconds, got = sdk_collection(sim.url, jobs, 1 if "one" in name else 16)
                if got != jobs * tables:
                    raise SystemExit(f"{name}: {got} tables")
            else:
                rate = 0.0 if "off" in name else Config.max_requests_per_second
                result = collect(sim.url, jobs, rate=rate)
                if result["failed"]:
                    raise SystemExit(f"{name}: {result}")
                seconds = result["seconds"]
            made = sim.total() - before
            if made != calls:
                raise SystemExit(f"{name}: {made} calls, expected {calls}")
            values.append(seconds)
    med = {name: median(values) for name, values in times.items()}
    lines = [
        f"#### Collection time, {jobs} jobs x {tables} tables + {jobs} tasks "
        f"({calls} calls, {latency * 1000:.0f} ms latency, {runs} runs, modes alternated)",
        "",
        "| who | median | runs | vs dts-exporter default | vs dts-exporter rate off |",
        "|---|---|---|---|---|",
        f"| latency floor at concurrency {concurrency} | {floor:.2f} s | | | |",
    ]
    base, off = med["dts-exporter, default settings"], med["dts-exporter, rate limit off"]
    for name, values in times.items():
        lines.append(
            f"| {name} | {med[name]:.2f} s | {fmt_runs(values)} | {med[name] / base:.2f}x "
            f"| {med[name] / off:.2f}x |"
        )
    lines.append("")
    return lines, {"times": times, "medians": med, "calls": calls, "floor": floor}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), scenario(args.jobs, args.tables)) as sim,
    ):
        per_lines, per_data = per_call(sim, args.calls, args.runs)
        sim.set_latency(args.latency)
        col_lines, col_data = collection(sim, args.jobs, args.tables, args.latency, args.runs)
    text = "\n".join(
        [header("dts-exporter against the official SDK"), *per_lines, *col_lines, load(), ""]
    )
    write_out("sdk.json", json.dumps({"per_call": per_data, "collection": col_data}, indent=2))
    write_out("sdk.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
