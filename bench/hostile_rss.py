"""RSS of a real `dts-exporter serve` process answered by a hostile API (issue 12).

One loopback server per kind of hostile answer, every request answered the same way; a
`dts-exporter serve` process (16 jobs, concurrency 16, max_retries 0,
scrape_timeout_seconds 5) scraped --scrapes times. From /proc/<pid>/status: VmRSS before
the first scrape (base), VmHWM after the last (peak), VmRSS after the last (after). Goal:
peak <= base + 200 MiB, after <= base + 60 MiB.

Kinds: a gzip bomb (256 MiB of zeros, ~250 KiB on the wire); 16 jobs each answering
~100 MB without a Content-Length (above the cap); 4 MB pages (more entries than the
PageSize); the same full page again and again (repeated); JSON nested 200,000 deep; a body
dripping a byte every 0.2 s.

    .venv/bin/python bench/hostile_rss.py [--scrapes 10] [--kinds gzip_bomb ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import Exporter, base_config, header

MIB = 1024 * 1024
BASE_GOAL_PEAK = 200 * MIB
BASE_GOAL_AFTER = 60 * MIB
KINDS = ("gzip_bomb", "big_bodies", "oversize_pages", "repeated_pages", "deep_json", "drip")


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MIB
    parts = [packer.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, packer.flush()])


def _entries(count: int) -> list[dict[str, str]]:
    return [
        {"TableName": f"t{i:06d}", "Status": "Migrating", "SourceOwnerDBName": "shop"}
        for i in range(count)
    ]


def answer(kind: str) -> tuple[bytes, dict[str, str]]:
    """The body (and headers) a kind answers with; big_bodies and drip are streamed."""
    if kind == "gzip_bomb":
        return _gzip_bomb(256 * MIB), {"Content-Encoding": "gzip"}
    if kind == "oversize_pages":
        body = {"Success": True, "DataInitializationDetails": _entries(40_000)}
        return json.dumps(body).encode(), {}
    if kind == "repeated_pages":
        body = {"Success": True, "DataInitializationDetails": _entries(100)}
        return json.dumps(body).encode(), {}
    if kind == "deep_json":
        return b"[" * 200_000 + b"]" * 200_000, {}
    return b'{"Success": true}', {}


class HostileServer:
    """Answers every request on 127.0.0.1 as `kind` does."""

    def __init__(self, kind: str) -> None:
        body, headers = answer(kind)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                try:
                    if kind in ("big_bodies", "drip"):
                        self.send_header("Connection", "close")
                        self.close_connection = True
                        self.end_headers()
                        self._stream()
                    else:
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the exporter hung up: as it should

            def _stream(self) -> None:
                if kind == "drip":
                    self.wfile.write(b'{"Success": true, "Pad": "')
                    for _ in range(100_000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                block = b" " * MIB
                for _ in range(100):  # ~100 MB
                    self.wfile.write(block)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def measure(kind: str, scrapes: int, tmp: Path) -> dict[str, Any]:
    """Base, peak and after RSS (bytes) of an exporter answered as `kind`, and the codes
    the last scrape read."""
    server = HostileServer(kind)
    config = base_config(
        server.url, 16, tasks=0, max_retries=0, scrape_timeout_seconds=5, concurrency=16
    )
    exporter = Exporter(config, tmp)
    try:
        time.sleep(1.0)
        base = exporter.kib("VmRSS") * 1024
        text = ""
        for _ in range(scrapes):
            text = requests.get(f"{exporter.url}/metrics", timeout=60).text
        time.sleep(0.5)
        after = exporter.kib("VmRSS") * 1024
        peak = exporter.kib("VmHWM") * 1024
    finally:
        exporter.close()
        server.close()
    codes = sorted(
        {
            line.split('code="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("dts_exporter_api_requests_total") and 'code="Success"' not in line
        }
    )
    return {"kind": kind, "base": base, "peak": peak, "after": after, "codes": codes}


def verdict(row: dict[str, Any]) -> str:
    peak_ok = row["peak"] - row["base"] <= BASE_GOAL_PEAK
    after_ok = row["after"] - row["base"] <= BASE_GOAL_AFTER
    if peak_ok and after_ok:
        return "met"
    missed = [n for n, ok in (("peak", peak_ok), ("after", after_ok)) if not ok]
    return "MISSED (" + ", ".join(missed) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    print(header(f"Hostile answers: RSS over {args.scrapes} scrapes"))
    print("| answer | base MiB | peak MiB (+) | after MiB (+) | codes | verdict |")
    print("|---|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            row = measure(kind, args.scrapes, Path(tmp))
            b, p, a = (row[k] / MIB for k in ("base", "peak", "after"))
            print(
                f"| {kind} | {b:.0f} | {p:.0f} (+{p - b:.0f}) | {a:.0f} (+{a - b:.0f}) | "
                f"{', '.join(row['codes'])} | {verdict(row)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
