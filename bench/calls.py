"""API calls per scrape: cold, steady state (settled ids reused), and 4 concurrent scrapers.

A simulator process holds 10 settled jobs (250 tables, all Finished: 3 pages each), 10
in-progress jobs of 50 tables (1 page), 10 in-progress jobs of 250 tables (3 pages), 10
Finished and 10 Migrating modify tasks. A `dts-exporter serve` process (default settings:
settled_refresh_seconds 600, cache_seconds 0) is scraped over HTTP and the simulator's
`GET /_simulator/requests` counts say what each scrape cost:

- `cold`: the first scrape calls every page of every id;
- `steady`: the next --steady scrapes call only the ids still in progress (one call per
  page), reusing the settled ones;
- `4 concurrent`: --rounds rounds of 4 scrapers released together (a barrier), every answer
  delayed by --latency so that they overlap: single flight makes one set of calls per round;
- `4 staggered, cache_seconds 20`: 4 scrapers 1 s apart, as an HA pair or two that do not
  overlap: the cache serves the followers without calls.

Two monitored sets: `single-page` (the 10 in-progress jobs of one page each) and
`multi-page` (the 10 of three pages each), both with the settled jobs and the 20 tasks.

    .venv/bin/python bench/calls.py [--steady 5 --rounds 3 --latency 0.3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import (
    Exporter,
    Simulator,
    header,
    job_id,
    load,
    pages,
    table,
    task_body,
    task_id,
    write_out,
)

SETTLED = range(0, 10)  # 250 tables, all Finished
SINGLE = range(10, 20)  # 50 tables, in progress
MULTI = range(20, 30)  # 250 tables, in progress
TASKS_DONE = range(0, 10)
TASKS_BUSY = range(10, 20)


def scenario() -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for j in SETTLED:
        jobs[job_id(j)] = {
            "DataInitializationDetails": [table(j, t, "Finished") for t in range(250)]
        }
    for j in SINGLE:
        jobs[job_id(j)] = {"DataInitializationDetails": [table(j, t) for t in range(50)]}
    for j in MULTI:
        jobs[job_id(j)] = {"DataInitializationDetails": [table(j, t) for t in range(250)]}
    tasks = {task_id(t): task_body("Finished") for t in TASKS_DONE}
    tasks.update({task_id(t): task_body("Migrating") for t in TASKS_BUSY})
    return {"jobs": jobs, "tasks": tasks}


def config(url: str, busy: range, **settings: Any) -> dict[str, Any]:
    tasks = [task_id(t) for t in (*TASKS_DONE, *TASKS_BUSY)]
    jobs: list[dict[str, Any]] = [{"id": job_id(j)} for j in (*SETTLED, *busy)]
    for job, task in zip(jobs, tasks, strict=True):
        job["modify_tasks"] = [task]
    return {
        "region": "cn-hangzhou",
        "endpoint": url,
        "log_level": "error",
        **settings,
        "jobs": jobs,
    }


def scrape(url: str) -> None:
    r = requests.get(
        f"{url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "30"}, timeout=60
    )
    r.raise_for_status()
    down = [line for line in r.text.splitlines() if line.startswith("dts_up{")]
    down = [line for line in down if not line.endswith(" 1.0")]
    if down:
        raise SystemExit(f"ids failed during the benchmark: {down[:3]}")


def together(url: str, scrapers: int, gap: float = 0.0) -> None:
    barrier = threading.Barrier(scrapers)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        barrier.wait()
        time.sleep(i * gap)
        try:
            scrape(url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(scrapers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def measure_set(
    sim: Simulator, tmp: Path, name: str, busy: range, steady: int, rounds: int, latency: float
) -> dict[str, Any]:
    busy_pages = sum(pages(50 if j in SINGLE else 250) for j in busy) + len(TASKS_BUSY)
    all_pages = busy_pages + len(SETTLED) * pages(250) + len(TASKS_DONE)
    in_progress = len(busy) + len(TASKS_BUSY)
    out: dict[str, Any] = {
        "set": name,
        "ids": len(SETTLED) + len(busy) + len(TASKS_DONE) + len(TASKS_BUSY),
        "ids_in_progress": in_progress,
        "expected_cold": all_pages,
        "expected_steady": busy_pages,
    }
    sim.set_latency(0.0)
    exporter = Exporter(config(sim.url, busy), tmp)
    try:
        before = sim.total()
        scrape(exporter.url)
        out["cold"] = sim.total() - before
        per = []
        for _ in range(steady):
            before = sim.total()
            scrape(exporter.url)
            per.append(sim.total() - before)
        out["steady"] = per
        sim.set_latency(latency)
        per = []
        for _ in range(rounds):
            before = sim.total()
            together(exporter.url, 4)
            per.append(sim.total() - before)
        out["concurrent"] = per
    finally:
        exporter.close()
        sim.set_latency(0.0)
    exporter = Exporter(config(sim.url, busy, cache_seconds=20), tmp)
    try:
        before = sim.total()
        together(exporter.url, 4, gap=1.0)
        out["staggered_cached"] = sim.total() - before
    finally:
        exporter.close()
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steady", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        path.write_text(json.dumps(scenario()), encoding="utf-8")
        sim = Simulator(path)
        try:
            results = [
                measure_set(sim, Path(tmp), name, busy, args.steady, args.rounds, args.latency)
                for name, busy in (("single-page", SINGLE), ("multi-page", MULTI))
            ]
        finally:
            sim.close()
    lines = [
        header("API calls per scrape"),
        "| monitored set | ids (in progress) | cold scrape | steady state, per scrape "
        "| 4 concurrent scrapers, per round | 4 staggered 1 s apart, cache_seconds 20 |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['set']} | {r['ids']} ({r['ids_in_progress']}) "
            f"| {r['cold']} (expected {r['expected_cold']}) "
            f"| {', '.join(map(str, r['steady']))} (expected {r['expected_steady']}: one per "
            f"page of each id in progress) "
            f"| {', '.join(map(str, r['concurrent']))} (one set: {r['expected_steady']}) "
            f"| {r['staggered_cached']} in all (one set: {r['expected_cold']}) |"
        )
    lines.append(
        f"\n{args.steady} steady scrapes, {args.rounds} rounds of 4 concurrent scrapers with "
        f"{args.latency * 1000:.0f} ms latency per call; at end: {load()}\n"
    )
    text = "\n".join(lines)
    write_out("calls.json", json.dumps(results, indent=2))
    write_out("calls.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
