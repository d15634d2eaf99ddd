"""Peak RSS and full-scrape CPU of a real `dts-exporter serve` process at 20k/100k table series.

A simulator process serves one synchronization job of --tables tables (5 per-table series
each) and one modify task; a `dts-exporter serve` process (default settings) monitors it
and is scraped --scrapes times, one after the other, as Prometheus scrapes it (text format
0.0.4, `Accept-Encoding: gzip`). Reported from /proc/<pid>/status and /proc/<pid>/stat:

- RSS at start (before any scrape), peak RSS (VmHWM) after the scrapes, RSS at the end;
- CPU of the exporter process (utime + stime, every thread) per scrape: the whole scrape
  through the network, i.e. signing and sending every page's call, decoding, parsing,
  building, `generate_latest` and gzip, per exported series.

    .venv/bin/python bench/rss.py [--tables 4000 20000 --scrapes 5 --finished]

With --finished every table is Finished: the job is settled, fetched once and then reused.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import (
    Exporter,
    base_config,
    header,
    load,
    median,
    pages,
    scenario,
    simulator,
    write_out,
)

HEADERS = {
    "Accept": "text/plain;version=0.0.4",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "30",
}


def measure(tables: int, scrapes: int, finished: bool = False) -> dict[str, Any]:
    jobs = scenario(1, tables)
    if finished:  # settled: fetched once, then reused (and its lines with it)
        for entries in jobs["jobs"].values():
            for entry in entries["DataInitializationDetails"]:
                entry["Status"] = "Finished"
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), jobs, 0.0) as sim,
    ):
        exporter = Exporter(base_config(sim.url, 1), Path(tmp))
        try:
            time.sleep(0.5)
            start_rss = exporter.kib("VmRSS")
            cpu_before = exporter.cpu_seconds()
            walls, sizes, series = [], [], 0
            for _ in range(scrapes):
                started = time.perf_counter()
                r = requests.get(f"{exporter.url}/metrics", headers=HEADERS, timeout=120)
                walls.append(time.perf_counter() - started)
                r.raise_for_status()
                text = r.text
                sizes.append(int(r.headers.get("Content-Length", "0")))
                raw_bytes = len(r.content)
                up = (
                    'dts_up{action="DescribeInitializationStatus",job_id="dtsbench0000",task_id=""}'
                )
                if f"{up} 1.0" not in text:
                    raise SystemExit(f"the job was not collected: {text[:2000]}")
                series = sum(1 for line in text.splitlines() if line and line[0] != "#")
            cpu = (exporter.cpu_seconds() - cpu_before) / scrapes
            status = exporter.status()
            calls = sim.total()
        finally:
            exporter.close()
    table_series = 5 * tables
    return {
        "tables": tables,
        "finished": finished,
        "table_series": table_series,
        "series": series,
        "pages": pages(tables),
        "calls": calls,
        "scrapes": scrapes,
        "rss_start_mib": start_rss / 1024,
        "hwm_mib": int(status["VmHWM"].split()[0]) / 1024,
        "rss_end_mib": int(status["VmRSS"].split()[0]) / 1024,
        "cpu_per_scrape": cpu,
        "cpu_per_series_us": cpu / series * 1e6,
        "cpu_per_table_series_us": cpu / table_series * 1e6,
        "wall_median": median(walls),
        "walls": walls,
        "gzip_bytes": median(sizes),
        "text_bytes": raw_bytes,
    }


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[4000, 20000])
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--label", default="", help="suffix for the output file names")
    parser.add_argument(
        "--finished", action="store_true", help="every table Finished (a settled job)"
    )
    args = parser.parse_args(argv)
    results = [measure(tables, args.scrapes, args.finished) for tables in args.tables]
    lines = [
        header("Peak RSS and full-scrape CPU of `dts-exporter serve`"),
        "One job, default settings, scraped one scrape after another as Prometheus does "
        "(text format, gzip); CPU is the exporter process's utime + stime (every thread) "
        "over the scrapes, the network calls to the simulator process included.\n",
        "| tables | table series | series | calls (all scrapes) | RSS at start "
        "| peak RSS (VmHWM) | RSS at end | CPU per scrape | per series | per table series "
        "| scrape wall time (median) | body (gzip) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['tables']:,} | {r['table_series']:,} | {r['series']:,} | {r['calls']} "
            f"| {r['rss_start_mib']:.1f} MiB | **{r['hwm_mib']:.1f} MiB** "
            f"| {r['rss_end_mib']:.1f} MiB | {r['cpu_per_scrape'] * 1000:.0f} ms "
            f"| {r['cpu_per_series_us']:.1f} µs | {r['cpu_per_table_series_us']:.1f} µs "
            f"| {r['wall_median']:.2f} s "
            f"| {r['text_bytes'] / 1e6:.1f} MB ({r['gzip_bytes'] / 1e6:.2f} MB) |"
        )
    lines.append(f"\n{args.scrapes} scrapes each; at end: {load()}\n")
    text = "\n".join(lines)
    suffix = f"-{args.label}" if args.label else ""
    write_out(f"rss{suffix}.json", json.dumps(results, indent=2))
    write_out(f"rss{suffix}.md", text)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
