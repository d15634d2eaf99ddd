"""Slow clients (issue 12): a request head has one deadline for all its lines, and clients
trickling header lines cannot keep /healthz from being answered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests
import yaml

from dts_exporter import webserver
from dts_exporter.simulator import DEMO_JOBS
from dts_exporter.web import ExporterServer
from tests.conftest import DEMO_ENV
from tests.procs import Process, free_port

pytestmark = pytest.mark.slow  # trickles for seconds; one test starts processes

JOB = DEMO_JOBS[0].job_id


class _NoScrapes:
    def metrics(self, timeout: float | None) -> object:
        raise AssertionError("not scraped here")

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> object:
        raise AssertionError("not scraped here")


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):  # a socket timeout here fails the test
        received += chunk
    return received


def test_a_trickling_head_is_closed_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webserver, "HEAD_TIMEOUT_SECONDS", 1.0)
    server = ExporterServer(_NoScrapes(), "127.0.0.1", 0)  # type: ignore[arg-type]
    server.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        # Each line would restart a per-line timeout; the head's deadline does not move.
        for line in range(20):
            time.sleep(0.25)
            try:
                sock.sendall(f"X-Line-{line}: trickle\r\n".encode())
            except OSError:
                closed = True
                break
        sock.settimeout(1.0 + 4.0)  # the deadline and slack: EOF must come before this
        received = b"" if closed else _read_until_closed(sock)
        assert closed or received.startswith(b"HTTP/1.1 408 ")
        sock.close()
        # A quiet connection, never sending a byte, is closed at the same deadline.
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        assert _read_until_closed(idle) == b""
        idle.close()
        healthz = requests.get(f"{server.url()}/healthz", timeout=5)
        assert healthz.status_code == 200
    finally:
        server.close()


class _Tricklers:
    """`count` connections each sending one more header line every `every` seconds; one
    the server closed is replaced, so the pressure stays."""

    def __init__(self, port: int, count: int, every: float) -> None:
        self.port = port
        self.every = every
        self.stop = threading.Event()
        self.socks = [self._open() for _ in range(count)]
        self.replaced = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")
        return sock

    def _run(self) -> None:
        line = 0
        while not self.stop.wait(self.every):
            line += 1
            for index, sock in enumerate(self.socks):
                try:
                    sock.sendall(f"X-Trickle-{line}: {index}\r\n".encode())
                except OSError:
                    sock.close()
                    try:
                        self.socks[index] = self._open()
                        self.replaced += 1
                    except OSError:
                        pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.socks:
            sock.close()


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[int]:
    sim_port = free_port()
    sim = Process(["simulate", "--listen-address", f"127.0.0.1:{sim_port}"], tmp_path / "s.log")
    sim.wait_http(f"http://127.0.0.1:{sim_port}/_simulator/requests")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "region": "cn-hangzhou",
                "endpoint": f"http://127.0.0.1:{sim_port}",
                "jobs": [{"id": JOB}],
            }
        )
    )
    port = free_port()
    args = ["serve", "--config", str(config), "--listen-address", f"127.0.0.1:{port}"]
    process = Process(args, tmp_path / "exporter.log", env=DEMO_ENV)
    try:
        process.wait_http(f"http://127.0.0.1:{port}/healthz")
        yield port
    finally:
        process.stop()
        sim.stop()


def test_healthz_answers_while_70_clients_trickle_headers(exporter: int) -> None:
    tricklers = _Tricklers(exporter, 70, every=2.0)  # more than the 64 handler threads
    try:
        answered = 0
        for _ in range(5):
            time.sleep(1.0)
            try:
                response = requests.get(f"http://127.0.0.1:{exporter}/healthz", timeout=5)
                answered += response.status_code == 200
            except requests.RequestException:
                pass
        assert answered >= 4
    finally:
        tricklers.close()
