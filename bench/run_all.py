"""Every benchmark, one after another, with one command; Markdown to stdout and bench/out/.

    .venv/bin/python bench/run_all.py            # the full suite (about 25 minutes)
    .venv/bin/python bench/run_all.py --quick    # smaller workloads, 1 run each (~3 minutes)
    .venv/bin/python bench/run_all.py --only cpu rss

Each part is also a script of its own (see its docstring): collection.py, cpu.py, rss.py,
calls.py, sdk.py, shards.py. All of them start `dts-exporter simulate` (and, for rss.py and
calls.py, `dts-exporter serve`) as separate processes; they need nothing but `.venv` (with
`alibabacloud-dts20200101` for sdk.py and py-spy for `cpu.py --profile`). The combined
report is written to bench/out/report.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import calls, collection, cpu, rss, sdk, shards
from bench.common import header, write_out

Part = tuple[str, Callable[[list[str]], str], list[str]]


def parts(quick: bool) -> list[Part]:
    if quick:
        return [
            ("collection", collection.main, ["--runs", "1", "--sequential"]),
            ("cpu", cpu.main, ["--tables", "4000", "--scrapes", "3", "--runs", "1"]),
            ("rss", rss.main, ["--tables", "4000", "--scrapes", "2"]),
            ("calls", calls.main, ["--steady", "2", "--rounds", "1"]),
            ("sdk", sdk.main, ["--calls", "50", "--runs", "1", "--jobs", "10"]),
            ("shards", shards.main, ["--jobs", "400", "--runs", "1"]),
        ]
    return [
        ("collection", collection.main, ["--runs", "3", "--sequential"]),
        ("collection", collection.main, ["--jobs", "200", "--tables", "1000", "--runs", "3"]),
        ("cpu", cpu.main, ["--tables", "4000", "20000", "--runs", "3", "--profile"]),
        ("rss", rss.main, ["--tables", "4000", "20000", "--scrapes", "5"]),
        ("calls", calls.main, []),
        ("sdk", sdk.main, ["--runs", "3"]),
        ("shards", shards.main, ["--runs", "3"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads, one run each")
    parser.add_argument("--only", nargs="+", help="run only these parts (by name)")
    args = parser.parse_args()
    started = time.monotonic()
    report = [header(f"dts-exporter benchmarks{' (quick)' if args.quick else ''}")]
    for name, run, argv in parts(args.quick):
        if args.only and name not in args.only:
            continue
        print(f"== {name} {' '.join(argv)}", file=sys.stderr, flush=True)
        report.append(run(argv))
    report.append(f"total {time.monotonic() - started:.0f} s\n")
    path = write_out("report.md", "\n".join(report))
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
