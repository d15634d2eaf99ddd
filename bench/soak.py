"""Soak: one exporter process scraped once a second for a long time, under changing faults.

Starts `dts-exporter simulate` with a generated scenario (--jobs jobs of --tables tables,
one modify task each) and `dts-exporter serve` against it, then for --minutes:

- scrapes `/metrics` once per second (with Prometheus's scrape-timeout header);
- every --fault-interval seconds replaces the simulator's faults with one random fault
  (random kind among the simulator's fault kinds, random job or task id; sometimes only
  on page 2 of a job, sometimes none at all) through `PUT /_simulator/faults`;
- every --sample-interval seconds samples the exporter's RSS (`/proc/<pid>/status` VmRSS),
  open file descriptors (`/proc/<pid>/fd`) and threads (`/proc/<pid>/status` Threads).

With --hostile, one fault in three is a hostile answer (the simulator's hostile kinds:
redirect, drip, oversize or repeated page, deep JSON, gzip bomb, huge body), the exporter
runs with basic auth and --web.enable-lifecycle, and the callers of
`bench/hostile_callers.py` (probe floods, 2 ms scrape timeouts, trickling headers, reload
storms, password guesses) run beside the scraper; their answers are counted.

Writes every sample to a CSV under bench/out/ and prints a Markdown summary: RSS after the
warm-up vs at the end, growth %, fd and thread min/max after the warm-up, scrape counts.
Not part of CI (it runs for 30 minutes by default).

    .venv/bin/python bench/soak.py [--minutes 30 --warmup-minutes 2 --jobs 8 --tables 250]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hostile_callers import Callers
from dts_exporter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    FAULT_KINDS,
    HOSTILE_FAULT_KINDS,
)

OUT = Path(__file__).parent / "out"
SCRAPE_TIMEOUT = 8.0  # what the soak announces as Prometheus's scrape timeout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job_id(j: int) -> str:
    return f"dtssoak{j:04d}"


def task_id(j: int) -> str:
    return f"tasksoak{j:04d}"


def scenario(jobs: int, tables: int) -> dict[str, Any]:
    def table(j: int, t: int) -> dict[str, str]:
        return {
            "SourceOwnerDBName": f"db{j}",
            "DestinationOwnerDBName": f"db{j}",
            "TableName": f"table_{t:05d}",
            "Status": "Migrating" if t % 3 else "Finished",
            "TotalRowNum": str(100_000 + t),
            "FinishRowNum": str(50_000 + t),
            "UsedTime": "120.0",
            "ErrorMessage": "DTS-1020042 Execute sql error" if t == 7 else "",
        }

    return {
        # The job list the job-health calls read (DescribeDtsJobs), as a real account has.
        "dts_jobs": {
            "cn-hangzhou": [
                {
                    "DtsInstanceID": job_id(j),
                    "DtsJobId": f"job-{job_id(j)}",
                    "DtsJobName": f"soak{j}",
                    "JobType": "SYNC",
                    "Status": "Synchronizing",
                    "Delay": 1,
                    "Checkpoint": "1790000000",
                }
                for j in range(jobs)
            ]
        },
        "jobs": {
            job_id(j): {
                "DataInitializationDetails": [table(j, t) for t in range(tables)],
                "StructureInitializationDetails": [
                    {
                        "ObjectName": f"table_{t:05d}",
                        "ObjectType": "Table",
                        "SourceOwnerDBName": f"db{j}",
                        "DestinationOwnerDBName": f"db{j}",
                        "Status": "Finished",
                        "Constraints": [
                            {"ObjectName": f"pk_{t}", "ObjectType": "Index", "Status": "Finished"}
                        ],
                    }
                    for t in range(min(tables, 50))
                ],
            }
            for j in range(jobs)
        },
        "tasks": {
            task_id(j): {
                "Status": "Migrating",
                "PrecheckStatus": {
                    "Status": "Finished",
                    "Percent": "100",
                    "Detail": [
                        {"ItemName": "CHECK_CONN_SRC", "CheckStatus": "Success"},
                        {"ItemName": "CHECK_SRC_BINLOG", "CheckStatus": "Success"},
                    ],
                },
                "DataInitializationStatus": {"Status": "Migrating", "Percent": "40"},
                "DataSynchronizationStatus": {"Status": "Migrating", "Delay": "3"},
            }
            for j in range(jobs)
        },
    }


def random_fault(rng: random.Random, jobs: int, hostile: bool = False) -> dict[str, Any]:
    """One random fault on one random id, or none (about one time in six); with `hostile`,
    one time in three a hostile answer (redirect, drip, oversize or repeated page, deep
    JSON, gzip bomb, huge body) instead."""
    if rng.random() < 1 / 6:
        return {}
    kind = rng.choice(FAULT_KINDS)
    if hostile and rng.random() < 1 / 3:
        kind = rng.choice(HOSTILE_FAULT_KINDS)
    is_job = rng.random() < 0.5
    target = job_id(rng.randrange(jobs)) if is_job else task_id(rng.randrange(jobs))
    spec: dict[str, Any] = {"kind": kind}
    if kind == "latency":
        spec["seconds"] = round(rng.uniform(0.5, 4.0), 2)  # sometimes past timeout_seconds
    if is_job and kind not in ("latency", "drip") and rng.random() < 0.3:
        spec["pages"] = [2]
    return {target: [spec]}


def proc_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def sample(pid: int) -> tuple[int, int, int]:
    """(RSS in KiB, open fds, threads) of a live process."""
    status = proc_status(pid)
    rss = int(status["VmRSS"].split()[0])
    threads = int(status["Threads"])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


@dataclass
class Tally:
    scrapes: int = 0
    failed: int = 0  # not 200, or no answer within the client timeout
    slowest: float = 0.0
    durations: list[float] = field(default_factory=list)
    faults: int = 0


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--fault-interval", type=float, default=20.0)
    parser.add_argument("--sample-interval", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="CSV path (default bench/out/)")
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="hostile answers among the faults, and hostile callers (bench/hostile_callers.py)"
        " beside the scraper; basic auth and --web.enable-lifecycle on",
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    csv_path: Path = args.out or OUT / f"soak-{stamp}.csv"
    tmp = Path(tempfile.mkdtemp(prefix="dts-soak-"))
    (tmp / "scenario.json").write_text(json.dumps(scenario(args.jobs, args.tables)))
    sim_port, exp_port = free_port(), free_port()
    sim_url, exp_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{exp_port}"
    config = {
        "region": "cn-hangzhou",
        "endpoint": sim_url,
        "timeout_seconds": 2,
        "scrape_timeout_seconds": 6,
        "max_retries": 1,
        "log_level": "warning",
        "jobs": [
            {"id": job_id(j), "name": f"soak{j}", "modify_tasks": [task_id(j)]}
            for j in range(args.jobs)
        ],
    }
    (tmp / "config.json").write_text(json.dumps(config))
    auth = ("soak", "soak-password")
    hashed = bcrypt.hashpw(auth[1].encode(), bcrypt.gensalt(rounds=10)).decode()
    (tmp / "web.yml").write_text(f"basic_auth_users:\n  {auth[0]}: {hashed}\n")
    web_options = (
        ["--web.config.file", str(tmp / "web.yml"), "--web.enable-lifecycle"]
        if args.hostile
        else []
    )
    callers: Callers | None = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.update(
        {
            "HOME": str(tmp),
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_ACCESS_KEY_SECRET,
        }
    )
    python = [sys.executable, "-m", "dts_exporter"]
    sim_log = (tmp / "simulator.log").open("wb")
    exp_log = (tmp / "exporter.log").open("wb")
    sim = subprocess.Popen(
        [
            *python,
            "simulate",
            "--listen-address",
            f"127.0.0.1:{sim_port}",
            "--scenario",
            str(tmp / "scenario.json"),
            "--log-level",
            "warning",
        ],
        stdout=sim_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    exporter: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    tally = Tally()
    died = False
    try:
        wait_http(f"{sim_url}/_simulator/requests", sim)
        exporter = subprocess.Popen(
            [
                *python,
                "serve",
                "--config",
                str(tmp / "config.json"),
                "--listen-address",
                f"127.0.0.1:{exp_port}",
                *web_options,
            ],
            stdout=exp_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_http(f"{exp_url}/healthz", exporter)
        if args.hostile:
            callers = Callers(exp_url, auth)
            callers.start()
        print(
            f"soak: {args.minutes:g} min, exporter pid {exporter.pid}, csv {csv_path}, logs {tmp}",
            flush=True,
        )
        session = requests.Session()
        started = time.monotonic()
        end = started + args.minutes * 60
        next_fault = started + args.fault_interval
        next_sample = started
        current_fault: dict[str, Any] = {}
        tick = started
        while time.monotonic() < end:
            now = time.monotonic()
            if exporter.poll() is not None:
                died = True
                print(f"soak: the exporter died with {exporter.returncode}", flush=True)
                break
            if now >= next_fault:
                current_fault = random_fault(rng, args.jobs, args.hostile)
                requests.put(f"{sim_url}/_simulator/faults", json=current_fault, timeout=5)
                tally.faults += 1
                next_fault += args.fault_interval
            if now >= next_sample:
                rss, fds, threads = sample(exporter.pid)
                rows.append(
                    {
                        "elapsed_s": round(now - started, 1),
                        "rss_kib": rss,
                        "fds": fds,
                        "threads": threads,
                        "scrapes": tally.scrapes,
                        "failed_scrapes": tally.failed,
                        "fault": json.dumps(current_fault, separators=(",", ":")),
                    }
                )
                next_sample += args.sample_interval
            t0 = time.monotonic()
            try:
                response = session.get(
                    f"{exp_url}/metrics",
                    headers={"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT)},
                    timeout=SCRAPE_TIMEOUT + 2,
                    auth=auth if args.hostile else None,
                )
                ok = response.status_code == 200 and "dts_up" in response.text
            except requests.RequestException:
                ok = False
            took = time.monotonic() - t0
            tally.scrapes += 1
            tally.failed += not ok
            tally.durations.append(took)
            tally.slowest = max(tally.slowest, took)
            tick += 1.0
            time.sleep(max(0.0, tick - time.monotonic()))
            tick = max(tick, time.monotonic() - 1.0)  # after a slow scrape, do not burst
        if exporter.poll() is None:
            rss, fds, threads = sample(exporter.pid)
            rows.append(
                {
                    "elapsed_s": round(time.monotonic() - started, 1),
                    "rss_kib": rss,
                    "fds": fds,
                    "threads": threads,
                    "scrapes": tally.scrapes,
                    "failed_scrapes": tally.failed,
                    "fault": json.dumps(current_fault, separators=(",", ":")),
                }
            )
    finally:
        if callers is not None:
            callers.close()
        stopping = time.monotonic()
        exit_code = stop(exporter) if exporter is not None else None
        stop_seconds = time.monotonic() - stopping
        stop(sim)
        sim_log.close()
        exp_log.close()

    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=[
                "elapsed_s",
                "rss_kib",
                "fds",
                "threads",
                "scrapes",
                "failed_scrapes",
                "fault",
            ],
        )
        writer.writeheader()
        writer.writerows(rows)

    warm = [row for row in rows if row["elapsed_s"] >= args.warmup_minutes * 60] or rows
    rss_warm, rss_end = warm[0]["rss_kib"], warm[-1]["rss_kib"]
    growth = 100.0 * (rss_end - rss_warm) / rss_warm
    warm_fds = [row["fds"] for row in warm]
    warm_threads = [row["threads"] for row in warm]
    all_fds = [row["fds"] for row in rows]
    all_threads = [row["threads"] for row in rows]
    median = statistics.median(tally.durations) if tally.durations else 0.0
    rss_max = max(row["rss_kib"] for row in warm)
    # Single samples swing by a few MiB with each collection's garbage; the medians of the
    # first and last five minutes after the warm-up, and a least-squares slope, say more.
    span = 5 * 60
    start_t, end_t = warm[0]["elapsed_s"], warm[-1]["elapsed_s"]
    head = [r["rss_kib"] for r in warm if r["elapsed_s"] < start_t + span]
    tail = [r["rss_kib"] for r in warm if r["elapsed_s"] > end_t - span]
    median_growth = (
        100.0 * (statistics.median(tail) - statistics.median(head)) / (statistics.median(head))
    )
    xs = [float(r["elapsed_s"]) for r in warm]
    ys = [float(r["rss_kib"]) for r in warm]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs) or 1.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    print()
    print(
        f"Machine: {platform.node()} {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"Command: .venv/bin/python bench/soak.py --minutes {args.minutes:g} "
        f"--warmup-minutes {args.warmup_minutes:g} --jobs {args.jobs} --tables {args.tables} "
        f"--seed {args.seed}{' --hostile' if args.hostile else ''}"
    )
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| duration | {args.minutes:g} min, {len(rows)} samples, {tally.faults} fault changes |")
    print(f"| scrapes (failed or late) | {tally.scrapes} ({tally.failed}) |")
    print(f"| scrape time median / max | {median:.3f} s / {tally.slowest:.3f} s |")
    print(f"| RSS after {args.warmup_minutes:g} min warm-up | {rss_warm / 1024:.1f} MiB |")
    print(f"| RSS at the end | {rss_end / 1024:.1f} MiB |")
    print(f"| RSS growth after warm-up | {growth:+.2f} % |")
    print(f"| RSS max after warm-up | {rss_max / 1024:.1f} MiB |")
    print(
        "| RSS median, first vs last 5 min after warm-up | "
        f"{statistics.median(head) / 1024:.1f} → {statistics.median(tail) / 1024:.1f} MiB "
        f"({median_growth:+.2f} %) |"
    )
    print(f"| RSS trend after warm-up (least squares) | {slope * 60:+.1f} KiB/min |")
    print(
        f"| open fds min / max after warm-up (whole run) | {min(warm_fds)} / {max(warm_fds)} "
        f"({min(all_fds)} / {max(all_fds)}) |"
    )
    print(
        "| threads min / max after warm-up (whole run) | "
        f"{min(warm_threads)} / {max(warm_threads)} ({min(all_threads)} / {max(all_threads)}) |"
    )
    print(f"| exporter died | {'yes' if died else 'no'} (exit status at SIGTERM: {exit_code}) |")
    print(f"| SIGTERM to exit | {stop_seconds:.1f} s |")
    log_bytes = (tmp / "exporter.log").stat().st_size
    per_minute = log_bytes / 1024 / args.minutes
    print(f"| exporter log | {log_bytes / 1024:.0f} KiB ({per_minute:.1f} KiB/min) |")
    if callers is not None:
        for what, count in sorted(callers.seen.items()):
            print(f"| hostile caller: {what} | {count} |")
    print()
    print(f"CSV: {csv_path}")
    return 1 if died or tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
