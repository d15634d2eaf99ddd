"""The real exporter behind --web.config.file: TLS, mTLS, basic auth, and bounded request
handling under a flood of scrapes and slow clients."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.simulator import DEMO_JOBS
from tests.conftest import DEMO_ENV, Scrape
from tests.pki import ALICE_HASH, Pki
from tests.procs import Process, free_port, run_cli

pytestmark = pytest.mark.slow  # starts the simulator and exporters as processes

JOB = DEMO_JOBS[0].job_id


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("websim")
    port = free_port()
    process = Process(["simulate", "--listen-address", f"127.0.0.1:{port}"], tmp / "sim.log")
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/_simulator/requests")
    yield url
    process.stop()


def start(tmp: Path, sim: str, web: str | None) -> tuple[Process, int]:
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump({"region": "cn-hangzhou", "endpoint": sim, "jobs": [{"id": JOB}]})
    )
    port = free_port()
    args = ["serve", "--config", str(config), "--listen-address", f"127.0.0.1:{port}"]
    if web is not None:
        (tmp / "web.yml").write_text(web)
        args += ["--web.config.file", str(tmp / "web.yml")]
    process = Process(args, tmp / f"exporter-{port}.log", env=DEMO_ENV)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait for the port without speaking HTTP to it
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            assert process.proc.poll() is None, process.output()
            time.sleep(0.1)
    raise AssertionError(process.output())


def test_tls_with_basic_auth(tmp_path: Path, sim: str, pki: Pki) -> None:
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  alice: {ALICE_HASH}\n"
    )
    process, port = start(tmp_path, sim, web)
    url = f"https://localhost:{port}"
    try:
        good = requests.get(
            f"{url}/metrics", auth=("alice", "wonderland"), verify=str(pki.ca), timeout=30
        )
        assert good.status_code == 200
        assert Scrape.from_text(good.text).get("dts_up", action=INIT, job_id=JOB, task_id="") == 1
        wrong = requests.get(
            f"{url}/metrics", auth=("alice", "nope"), verify=str(pki.ca), timeout=10
        )
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Basic")
        assert requests.get(f"{url}/healthz", verify=str(pki.ca), timeout=10).status_code == 401
        with pytest.raises(requests.exceptions.SSLError):  # an untrusted server certificate
            requests.get(f"{url}/metrics", auth=("alice", "wonderland"), timeout=10)
        with pytest.raises(requests.ConnectionError):  # plain HTTP to the TLS port fails cleanly
            requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        again = requests.get(
            f"{url}/healthz", auth=("alice", "wonderland"), verify=str(pki.ca), timeout=10
        )
        assert again.status_code == 200  # and the server keeps serving
        assert "address=https://" in process.output() and "tls=on basic_auth=on" in process.output()
        assert "wonderland" not in process.output() and ALICE_HASH not in process.output()
    finally:
        assert process.stop() == 0


def test_mutual_tls(tmp_path: Path, sim: str, pki: Pki) -> None:
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_ca_file: {pki.ca}\n  client_auth_type: RequireAndVerifyClientCert\n"
    )
    process, port = start(tmp_path, sim, web)
    url = f"https://localhost:{port}/healthz"
    try:
        with pytest.raises(requests.ConnectionError):  # no client certificate: refused
            requests.get(url, verify=str(pki.ca), timeout=10)
        with pytest.raises(requests.ConnectionError):  # a certificate from another CA: refused
            requests.get(
                url,
                verify=str(pki.ca),
                cert=(str(pki.other_client_cert), str(pki.other_client_key)),
                timeout=10,
            )
        ok = requests.get(
            url, verify=str(pki.ca), cert=(str(pki.client_cert), str(pki.client_key)), timeout=10
        )
        assert ok.status_code == 200
    finally:
        process.stop()


def test_a_bad_web_config_is_one_line_and_exit_2(tmp_path: Path, sim: str) -> None:
    (tmp_path / "web.yml").write_text("tls_server_config:\n  cert_file: /nope.crt\n")
    (tmp_path / "c.yaml").write_text(f"region: cn-hangzhou\nendpoint: {sim}\njobs: [{{id: a}}]\n")
    result = run_cli(
        [
            "serve",
            "--config",
            str(tmp_path / "c.yaml"),
            "--web.config.file",
            str(tmp_path / "web.yml"),
        ],
        env=DEMO_ENV,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "tls_server_config" in result.stderr


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def test_a_flood_of_scrapes_neither_exhausts_threads_nor_multiplies_calls(
    tmp_path: Path, sim: str
) -> None:
    requests.put(
        f"{sim}/_simulator/faults",
        data=json.dumps({"*": [{"kind": "latency", "seconds": 1}]}),
        timeout=5,
    )
    process, port = start(tmp_path, sim, None)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        before = requests.get(f"{sim}/_simulator/requests", timeout=5).json().get(INIT, 0)
        statuses: list[int] = []
        peak = [0]

        def scrape() -> None:
            try:
                statuses.append(requests.get(url, timeout=60).status_code)
            except requests.RequestException:
                statuses.append(-1)

        def watch() -> None:
            while len(statuses) < 200:
                peak[0] = max(peak[0], threads_of(process.proc.pid))
                time.sleep(0.05)

        workers = [threading.Thread(target=scrape) for _ in range(200)]
        watcher = threading.Thread(target=watch)
        watcher.start()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        watcher.join()
        after = requests.get(f"{sim}/_simulator/requests", timeout=5).json().get(INIT, 0)
        assert statuses.count(200) == 200
        assert peak[0] <= 64 + 16 + 8  # handler slots + API pool + the process's own
        assert after - before <= 4  # a few shared collections, not 200
        assert process.proc.poll() is None
    finally:
        requests.put(f"{sim}/_simulator/faults", data="{}", timeout=5)
        process.stop()


def test_slow_clients_do_not_block_scrapes(tmp_path: Path, sim: str) -> None:
    process, port = start(tmp_path, sim, None)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
    try:
        for s in idle[:20]:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")  # a request line, never finished
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200
    finally:
        for s in idle:
            s.close()
        process.stop()
