"""A flood of `/probe` requests for ids that do not exist (issue 12): RSS and log growth.

A `dts-exporter simulate` process serves three configured jobs and answers every other id
with an error (InvalidJobId / InvalidTaskId: each probed id fails, the worst case for
log lines). A `dts-exporter serve` process (default settings, log level info, its output
to a file) monitors the three jobs and is sent, from --clients threads:

1. --probes probes of distinct job ids with --tasks distinct task ids each (allowed:
   at most probe_max_task_ids, default 50);
2. --probes probes of distinct job ids with --refused-tasks task ids each (over the cap:
   each must be answered 400).

Reported after each phase: the exporter's VmRSS (from /proc/<pid>/status) and its log's
size against the start (after a warm-up of a few scrapes and probes), the answers by
status, the API calls the simulator saw, and whether /metrics still reads every
configured id up, with `dts_exporter_log_lines_suppressed_total{reason="probe"}`.

    .venv/bin/python bench/probe_flood.py [--probes 300 --tasks 50 --refused-tasks 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    AK,
    ROOT,
    SECRET,
    free_port,
    header,
    load,
    simulator,
    table,
    wait_http,
    write_out,
)

CONFIGURED = ("dtsflood0", "dtsflood1", "dtsflood2")


class Serve:
    """`dts-exporter serve` with its output (the log) going to a file."""

    def __init__(self, config: dict[str, Any], tmp: Path, source: Path = ROOT) -> None:
        path = tmp / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        self.log_path = tmp / "exporter.log"
        self._log = self.log_path.open("wb")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
            **({"PYTHONPATH": str(source)} if source != ROOT else {}),
        }
        command = [sys.executable, "-m", "dts_exporter", "serve", "--config", str(path)]
        self.proc = subprocess.Popen(
            [*command, "--listen-address", f"127.0.0.1:{port}"],
            cwd=source,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"{self.url}/healthz")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log_bytes(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def probe_url(base: str, job: str, tasks: int) -> str:
    query = "&".join(f"task_id={job}t{t:03d}" for t in range(tasks))
    return f"{base}/probe?job_id={job}" + (f"&{query}" if query else "")


def flood(base: str, prefix: str, probes: int, tasks: int, clients: int) -> Counter[int]:
    session_urls = [probe_url(base, f"{prefix}{p:04d}", tasks) for p in range(probes)]

    def one(url: str) -> int:
        return requests.get(url, timeout=120).status_code

    with ThreadPoolExecutor(clients) as pool:
        return Counter(pool.map(one, session_urls))


def metrics(base: str) -> tuple[int, float]:
    """Configured ids reading dts_up 1 on /metrics, and the suppressed probe log lines."""
    text = requests.get(f"{base}/metrics", timeout=60).text
    up, suppressed = 0, 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "dts_up" and s.labels.get("job_id") in CONFIGURED and s.value == 1:
                up += 1
            if s.name == "dts_exporter_log_lines_suppressed_total":
                suppressed = s.value
    return up, suppressed


def run(args: argparse.Namespace) -> dict[str, Any]:
    scenario = {
        "jobs": {
            job: {"DataInitializationDetails": [table(j, t) for t in range(5)]}
            for j, job in enumerate(CONFIGURED)
        }
    }
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(Path(tmp), scenario, 0.0) as sim,
    ):
        config = {
            "region": "cn-hangzhou",
            "endpoint": sim.url,
            "log_level": "info",
            "jobs": [{"id": job} for job in CONFIGURED],
        }
        exporter = Serve(config, Path(tmp), args.source)
        try:
            for _ in range(3):  # warm-up: pools, connections, imports
                metrics(exporter.url)
            flood(exporter.url, "dtswarm", 8, args.tasks, args.clients)
            time.sleep(1.0)
            start_rss, start_log = exporter.rss_kib(), exporter.log_bytes()
            before_up, _ = metrics(exporter.url)
            phases = [
                ("allowed", "dtsprobe", args.tasks),
                ("refused", "dtsover", args.refused_tasks),
            ]
            for name, prefix, tasks in phases:
                calls = sim.total()
                started = time.perf_counter()
                statuses = flood(exporter.url, prefix, args.probes, tasks, args.clients)
                wall = time.perf_counter() - started
                up, suppressed = metrics(exporter.url)
                rows.append(
                    {
                        "phase": name,
                        "probes": args.probes,
                        "task_ids": tasks,
                        "statuses": dict(sorted(statuses.items())),
                        "api_calls": sim.total() - calls,
                        "wall_seconds": round(wall, 1),
                        "rss_growth_mib": round((exporter.rss_kib() - start_rss) / 1024, 1),
                        "log_growth_kib": round((exporter.log_bytes() - start_log) / 1024, 1),
                        "configured_up": f"{up}/{before_up}",
                        "suppressed": suppressed,
                    }
                )
            log_lines = exporter.log_path.read_text(errors="replace").splitlines()
        finally:
            exporter.close()
    return {
        "start_rss_mib": round(start_rss / 1024, 1),
        "rows": rows,
        "log_lines": len(log_lines),
    }


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        header("Probe flood (issue 12)"),
        f"exporter RSS after warm-up: {result['start_rss_mib']} MiB; "
        f"{args.clients} client threads; log lines written in all: {result['log_lines']}",
        "",
        "| phase | probes x task ids | answers | API calls | wall s | RSS growth MiB "
        "| log growth KiB | configured dts_up 1 | suppressed log lines |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        answers = ", ".join(f"{n}x {code}" for code, n in row["statuses"].items())
        lines.append(
            f"| {row['phase']} | {row['probes']} x {row['task_ids']} | {answers} "
            f"| {row['api_calls']} | {row['wall_seconds']} | {row['rss_growth_mib']} "
            f"| {row['log_growth_kib']} | {row['configured_up']} | {row['suppressed']:g} |"
        )
    lines.append(f"\nat end: {load()}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--refused-tasks", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="run the exporter from this copy of the code (e.g. `git archive` of an older commit)",
    )
    args = parser.parse_args()
    text = markdown(run(args), args)
    write_out("probe_flood.md", text)
    print(text)


if __name__ == "__main__":
    main()
