"""Cached rendering (issue 13): exporter CPU per series per scrape when little changes.

One synchronization job of --tables tables (5 per-table series each: 20,000 tables = 100k
table series) and one modify task, answered from recorded simulator bytes as in
`bench/cpu.py` (no network; decode, parse, build and render are measured). Scenarios:

- `settled`: every table Finished: the job is settled, no API call after the first scrape;
- `changing`: tables Migrating, and before each scrape 10% of them (a different tenth each
  time) have moved on (FinishRowNum + 1): every page is fetched, decoded and parsed again;
- `alike`: tables Migrating, the same answer every scrape (new, equal records).

Each is measured the way /metrics renders now (`rendering.encode` of the `DtsCollector`'s
families: unchanged ids and tables reuse their lines) and the way it did before
(`generate_latest` of `build_families`), with the same collection, alternated, --runs runs
of --scrapes scrapes, medians of `time.process_time()` per scrape (preparing the next
scrape's answers is not counted). The floor is `generate_latest` over pre-built families.

    .venv/bin/python bench/cached.py [--tables 20000 --scrapes 5 --runs 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import generate_latest

from bench.common import fmt_runs, header, load, median, table, task_body, write_out
from bench.cpu import Prebuilt, ReplayClient, config, floor_registry
from dts_exporter.actions import NAMES
from dts_exporter.actions.initialization import PAGE_SIZE
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.targets import Targets
from dts_exporter.exposition import build_families
from dts_exporter.rendering import encode
from dts_exporter.scrape import DtsCollector, Families
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator.api import page_job_body
from dts_exporter.simulator.render import render_json

SCENARIOS = ("settled", "changing", "alike")


def answers(tables: int, scenario: str, step: int) -> dict[int, bytes]:
    """The pages of the job's answer before scrape `step`: in `changing`, table t has
    moved on once for every earlier step k (1..step) with k % 10 == t % 10."""
    entries = []
    for t in range(tables):
        entry = table(0, t, "Finished" if scenario == "settled" else "Migrating")
        if scenario == "changing":
            r = t % 10
            moved = sum(1 for k in range(1, step + 1) if k % 10 == r)
            entry["FinishRowNum"] = str(50_000 + t + moved)
        entries.append(entry)
    stored = {"DataInitializationDetails": entries}
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


class Pipeline:
    """A collection over recorded answers, rendered cached (as /metrics) or uncached."""

    def __init__(self, tables: int, scenario: str) -> None:
        self.tables = tables
        self.scenario = scenario
        self.step = 0
        status = "Finished" if scenario == "settled" else "Migrating"
        task = render_json({**task_body(status), "RequestId": "TASK", "Success": True})
        self.client = ReplayClient(answers(tables, scenario, 0), task)
        self.stats = ApiStats(NAMES)
        self.collection = Collection(config(), self.client, self.stats, Targets(config().jobs))
        self.collector = DtsCollector(self.collection, self.stats)

    def advance(self) -> None:
        """The next scrape's answers (not measured); only `changing` changes them."""
        self.step += 1
        if self.scenario == "changing":
            self.client._pages = answers(self.tables, self.scenario, self.step)

    def cached(self) -> bytes:
        return encode(Families(self.collector.families(None)), generate_latest)

    def check(self) -> None:
        """One more collection, rendered both ways: the bytes must be the same."""
        snapshot = self.collection.run(None)
        families = self.collector.renderer.families(snapshot, self.stats)
        plain = generate_latest(Prebuilt(build_families(snapshot, self.stats)))
        assert encode(Families(families), generate_latest) == plain, "cached output differs"

    def uncached(self) -> bytes:
        snapshot = self.collection.run(None)
        return generate_latest(Prebuilt(build_families(snapshot, self.stats)))


def cpu_per_scrape(pipeline: Pipeline, cached: bool, scrapes: int) -> float:
    total = 0.0
    for _ in range(scrapes):
        pipeline.advance()
        gc.collect()
        started = time.process_time()
        if cached:
            pipeline.cached()
        else:
            pipeline.uncached()
        total += time.process_time() - started
    return total / scrapes


def measure(tables: int, scenario: str, scrapes: int, runs: int) -> dict[str, Any]:
    cached_pipe = Pipeline(tables, scenario)
    plain_pipe = Pipeline(tables, scenario)
    text = cached_pipe.cached()  # the first scrape: every line rendered, the cache filled
    plain_pipe.uncached()
    fresh_first = cached_pipe.collector.renderer.fresh_rows
    families = build_families(cached_pipe.collection.run(None), cached_pipe.stats)
    series = sum(len(f.samples) for f in families)
    floor = floor_registry(families)
    cached_runs, plain_runs, floor_runs = [], [], []
    cached_pipe.check()
    fresh_before = cached_pipe.collector.renderer.fresh_rows
    for _ in range(runs):
        cached_runs.append(cpu_per_scrape(cached_pipe, True, scrapes))
        plain_runs.append(cpu_per_scrape(plain_pipe, False, scrapes))
        started = time.process_time()
        for _ in range(scrapes):
            generate_latest(floor)
        floor_runs.append((time.process_time() - started) / scrapes)
    fresh = (cached_pipe.collector.renderer.fresh_rows - fresh_before) / (runs * scrapes)
    cached_pipe.check()
    cached_pipe.collection.close()
    plain_pipe.collection.close()
    return {
        "tables": tables,
        "scenario": scenario,
        "series": series,
        "cached_runs": cached_runs,
        "uncached_runs": plain_runs,
        "floor_runs": floor_runs,
        "cached": median(cached_runs),
        "uncached": median(plain_runs),
        "floor": median(floor_runs),
        "fresh_rows_first": fresh_first,
        "fresh_rows_per_scrape": fresh,
        "bytes": len(text),
    }


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| tables | scenario | series | cached (now) per scrape | per series | uncached (before) "
        "| per series | floor per series | lines rendered anew per scrape |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["series"]
        cached_runs = fmt_runs([x * 1000 for x in r["cached_runs"]], ".0f")
        plain_runs = fmt_runs([x * 1000 for x in r["uncached_runs"]], ".0f")
        fresh = f"{r['fresh_rows_per_scrape']:,.0f} of {s:,}"
        lines.append(
            f"| {r['tables']:,} | {r['scenario']} | {s:,} "
            f"| {r['cached'] * 1000:.0f} ms ({cached_runs}) "
            f"| **{r['cached'] / s * 1e6:.2f} µs** "
            f"| {r['uncached'] * 1000:.0f} ms ({plain_runs}) "
            f"| {r['uncached'] / s * 1e6:.2f} µs | {r['floor'] / s * 1e6:.2f} µs "
            f"| {fresh} (first scrape {r['fresh_rows_first']:,}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[20000])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = [
        measure(tables, scenario, args.scrapes, args.runs)
        for tables in args.tables
        for scenario in args.scenarios
    ]
    text = "\n".join(
        [
            header("Cached rendering: CPU per series per scrape"),
            report(results),
            f"at end: {load()}\n",
        ]
    )
    write_out("cached.json", json.dumps(results, indent=2))
    write_out("cached.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
