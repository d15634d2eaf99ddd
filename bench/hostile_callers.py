"""The hostile callers of the soak (`bench/soak.py --hostile`), each a daemon thread that
runs until `stop` is set, counting what it saw:

- `probe_flood`: every 2 s a `/probe` of a job id never seen before with 50 task ids of its
  own, and every 30 s one with 300 and one with 5,000 task ids (past the cap: refused);
- `short_deadlines`: `/metrics` announcing a 2 ms scrape timeout, twice a second;
- `tricklers`: 20 sockets sending one header line every 5 s, reopened when closed;
- `reload_storm`: every 60 s, 50 `POST /-/reload` at once;
- `guesser`: 5 wrong basic-auth passwords a second.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests


@dataclass
class Callers:
    base_url: str
    auth: tuple[str, str]
    stop: threading.Event = field(default_factory=threading.Event)
    seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def count(self, what: str) -> None:
        with self._lock:
            self.seen[what] += 1

    def start(self) -> None:
        loops: list[Callable[[], None]] = [
            self.probe_flood,
            self.short_deadlines,
            self.tricklers,
            self.reload_storm,
            self.guesser,
        ]
        for loop in loops:
            thread = threading.Thread(target=self._guarded(loop), daemon=True, name=loop.__name__)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _guarded(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self.stop.is_set():
                try:
                    loop()
                except (requests.RequestException, OSError):
                    self.count(f"{loop.__name__}: no answer")
                    self.stop.wait(1.0)

        return run

    def _get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(f"{self.base_url}{path}", timeout=15, **kwargs)  # type: ignore[arg-type]

    def probe_flood(self) -> None:
        started = time.monotonic()
        last_big = started
        while not self.stop.wait(2.0):
            job = f"dtsprobe{secrets.token_hex(4)}"
            tasks = [f"t{secrets.token_hex(3)}" for _ in range(50)]
            query = urlencode([("job_id", job), *(("task_id", t) for t in tasks)])
            answer = self._get(f"/probe?{query}", auth=self.auth)
            self.count(f"probe 50 tasks: HTTP {answer.status_code}")
            if time.monotonic() - last_big >= 30:
                last_big = time.monotonic()
                tasks = [f"t{i}" for i in range(300)]
                query = urlencode([("job_id", job), *(("task_id", t) for t in tasks)])
                answer = self._get(f"/probe?{query}", auth=self.auth)
                self.count(f"probe 300 tasks: HTTP {answer.status_code}")
                tasks = [f"t{i}" for i in range(5000)]
                query = urlencode([("job_id", job), *(("task_id", t) for t in tasks)])
                answer = self._get(f"/probe?{query}", auth=self.auth)
                self.count(f"probe 5,000 tasks: HTTP {answer.status_code}")

    def short_deadlines(self) -> None:
        while not self.stop.wait(0.5):
            answer = self._get(
                "/metrics",
                auth=self.auth,
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.002"},
            )
            self.count(f"2 ms scrape: HTTP {answer.status_code}")

    def tricklers(self) -> None:
        host, port = self.base_url.removeprefix("http://").split(":")
        sockets: list[socket.socket] = []
        try:
            while not self.stop.is_set():
                while len(sockets) < 20:
                    conn = socket.create_connection((host, int(port)), timeout=5)
                    conn.sendall(b"GET /metrics HTTP/1.1\r\n")
                    sockets.append(conn)
                    self.count("trickler: opened")
                if self.stop.wait(5.0):
                    break
                for conn in list(sockets):
                    try:
                        conn.sendall(f"X-Trickle-{secrets.token_hex(2)}: 1\r\n".encode())
                    except OSError:
                        sockets.remove(conn)
                        conn.close()
                        self.count("trickler: closed by the exporter")
        finally:
            for conn in sockets:
                conn.close()

    def reload_storm(self) -> None:
        while not self.stop.wait(60.0):
            with ThreadPoolExecutor(max_workers=10) as pool:
                answers = list(
                    pool.map(
                        lambda _: (
                            requests.post(
                                f"{self.base_url}/-/reload", auth=self.auth, timeout=30
                            ).status_code
                        ),
                        range(50),
                    )
                )
            for status in answers:
                self.count(f"reload: HTTP {status}")

    def guesser(self) -> None:
        while not self.stop.wait(0.2):
            answer = self._get("/metrics", auth=(self.auth[0], secrets.token_hex(6)))
            self.count(f"wrong password: HTTP {answer.status_code}")
