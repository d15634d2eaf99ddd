"""Shared pieces of the benchmarks: scenarios, simulator and exporter processes, the machine.

Every benchmark talks to `dts-exporter simulate` running as a separate process (so the
simulator's CPU is not counted as the exporter's), configured with a generated scenario
and a latency fault on every id through `PUT /_simulator/faults`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import requests

from dts_exporter.actions.initialization import PAGE_SIZE
from dts_exporter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
AK, SECRET = DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET


def job_id(j: int) -> str:
    return f"dtsbench{j:04d}"


def task_id(j: int) -> str:
    return f"taskbench{j:04d}"


def table(j: int, t: int, status: str | None = None) -> dict[str, str]:
    """One DataInitializationDetails entry, values as strings as the service sends them."""
    return {
        "SourceOwnerDBName": f"db{j}",
        "DestinationOwnerDBName": f"db{j}",
        "TableName": f"table_{t:05d}",
        "Status": status or ("Migrating" if t % 3 else "Finished"),
        "TotalRowNum": str(100_000 + t),
        "FinishRowNum": str(50_000 + t),
        "UsedTime": "120.0",
    }


def task_body(status: str = "Migrating") -> dict[str, Any]:
    return {
        "Status": status,
        "DataInitializationStatus": {"Status": status, "Percent": "40", "Progress": "1234"},
    }


def scenario(jobs: int, tables: int, tasks: int | None = None) -> dict[str, Any]:
    """`jobs` jobs of `tables` tables each (two thirds Migrating), and one modify task per
    job for the first `tasks` jobs (all of them by default)."""
    tasks = jobs if tasks is None else tasks
    return {
        "jobs": {
            job_id(j): {"DataInitializationDetails": [table(j, t) for t in range(tables)]}
            for j in range(jobs)
        },
        "tasks": {task_id(j): task_body() for j in range(tasks)},
        # The account's job list, which the job-health calls (DescribeDtsJobs) read.
        "dts_jobs": {"cn-hangzhou": [job_entry(j) for j in range(jobs)]},
    }


def job_entry(j: int) -> dict[str, Any]:
    """Job `j` as DescribeDtsJobs lists it: a running synchronization job."""
    return {
        "DtsInstanceID": job_id(j),
        "DtsJobId": f"job-{job_id(j)}",
        "DtsJobName": job_id(j),
        "JobType": "SYNC",
        "Status": "Synchronizing",
        "Delay": 1,
        "Checkpoint": "1790000000",
    }


def pages(tables: int) -> int:
    """Pages the client asks for: a full last page needs one more, empty, to end."""
    return max(1, math.ceil((tables + 1) / PAGE_SIZE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Simulator:
    """`dts-exporter simulate` as a separate process."""

    def __init__(self, scenario_path: Path, latency: float = 0.0) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dts_exporter",
                "simulate",
                "--listen-address",
                f"127.0.0.1:{port}",
                "--scenario",
                str(scenario_path),
                "--log-level",
                "error",
            ],
            cwd=ROOT,
        )
        wait_http(f"{self.url}/_simulator/requests", timeout=120)
        self.set_latency(latency)

    def set_latency(self, seconds: float) -> None:
        faults = {"*": [{"kind": "latency", "seconds": seconds}]} if seconds > 0 else {}
        r = requests.put(f"{self.url}/_simulator/faults", data=json.dumps(faults), timeout=5)
        r.raise_for_status()

    def counts(self) -> dict[str, int]:
        r = requests.get(f"{self.url}/_simulator/requests", timeout=5)
        r.raise_for_status()
        return {str(k): int(v) for k, v in r.json().items()}

    def total(self) -> int:
        return sum(self.counts().values())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def simulator(tmp: Path, data: dict[str, Any], latency: float = 0.0) -> Iterator[Simulator]:
    path = tmp / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    sim = Simulator(path, latency)
    try:
        yield sim
    finally:
        sim.close()


class Exporter:
    """`dts-exporter serve` as a separate process, with the demo key pair in its env."""

    def __init__(self, config: dict[str, Any], tmp: Path, extra: Sequence[str] = ()) -> None:
        path = tmp / f"config-{free_port()}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dts_exporter",
                "serve",
                "--config",
                str(path),
                "--listen-address",
                f"127.0.0.1:{port}",
                *extra,
            ],
            cwd=ROOT,
            env=env,
        )
        wait_http(f"{self.url}/healthz")

    def status(self) -> dict[str, str]:
        """/proc/<pid>/status as a dict (VmHWM, VmRSS, Threads...)."""
        out: dict[str, str] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            out[key] = value.strip()
        return out

    def kib(self, key: str) -> int:
        return int(self.status()[key].split()[0])

    def cpu_seconds(self) -> float:
        """utime + stime of the process (all threads), from /proc/<pid>/stat."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def base_config(url: str, jobs: int, tasks: int | None = None, **settings: Any) -> dict[str, Any]:
    tasks = jobs if tasks is None else tasks
    return {
        "region": "cn-hangzhou",
        "endpoint": url,
        "log_level": "error",
        **settings,
        "jobs": [
            {"id": job_id(j), **({"modify_tasks": [task_id(j)]} if j < tasks else {})}
            for j in range(jobs)
        ],
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_runs(values: Sequence[float], spec: str = ".2f") -> str:
    return ", ".join(format(v, spec) for v in values)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    """A short machine description: CPU model, cores, memory, kernel, Python."""
    model = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        info = dict(
            (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in out.splitlines())
        )
        model = (
            f"{info.get('Model name', '?')}, {info.get('CPU(s)', '?')} CPU(s) "
            f"({info.get('Thread(s) per core', '?')} thread(s) per core), "
            f"hypervisor {info.get('Hypervisor vendor', 'none')}"
        )
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return (
        f"{model}; {mem}; {platform.system()} {platform.release()} {platform.machine()}; "
        f"Python {platform.python_version()}"
    )


def others() -> str:
    """Other benchmark and test processes on the machine (CPU contention worth reporting)."""
    me = os.getpid()
    kinds = {"bench/soak.py": 0, "pytest": 0}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        with contextlib.suppress(OSError):
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for kind in kinds:
                if kind in cmd:
                    kinds[kind] += 1
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items() if n) or "none"


def header(title: str) -> str:
    return (
        f"### {title}\n\n"
        f"machine: {machine()}\n"
        f"at start: {load()}; other benchmark/test processes: {others()}\n"
    )


def write_out(name: str, text: str) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    path.write_text(text, encoding="utf-8")
    return path
