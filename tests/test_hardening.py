"""Hostile or careless inputs (issue 12): TLS versions that cannot be honoured, readable
secrets and keys, a FIFO given as a config file, and bcrypt guessing bounded."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import yaml
from click.testing import CliRunner

from dts_exporter import actions, basicauth, cli, startup
from dts_exporter.base.errors import ConfigError
from dts_exporter.cli import common
from dts_exporter.config import load_config
from dts_exporter.lifecycle import Runtime
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.simulator import DEMO_JOBS, start_simulator
from dts_exporter.web import ExporterServer
from dts_exporter.webconfig import WebConfig, load_web_config, parse_web_config
from tests.conftest import DEMO_ENV, cli_env
from tests.pki import ALICE_HASH, Pki

JOB = DEMO_JOBS[0].job_id


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    yield from cli_env(
        monkeypatch, tmp_path, ("DTS_EXPORTER_LOG_LEVEL", "DTS_EXPORTER_WEB_CONFIG_FILE")
    )


def _web(tmp_path: Path, pki: Pki, key_mode: int, **tls: str) -> Path:
    key = tmp_path / "server.key"
    shutil.copyfile(pki.server_key, key)
    key.chmod(key_mode)
    web = tmp_path / "web.yml"
    section = {"cert_file": str(pki.server_cert), "key_file": str(key), **tls}
    web.write_text(yaml.safe_dump({"tls_server_config": section}))
    return web


# -- TLS versions ---------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "version"), [("min_version", "TLS10"), ("min_version", "TLS11")])
def test_tls_versions_below_12_are_refused_with_one_line(pki: Pki, key: str, version: str) -> None:
    section = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key), key: version}
    with pytest.raises(ConfigError) as caught:
        parse_web_config({"tls_server_config": section}, source="web.yml", base=pki.dir)
    assert str(caught.value) == (
        f"web.yml: tls_server_config.{key}: {version} is not supported by this "
        "Python/OpenSSL; use TLS12 or TLS13"
    )


def test_max_version_tls11_is_refused_too(pki: Pki) -> None:
    section = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}
    with pytest.raises(ConfigError, match=r"max_version: TLS11 is not supported"):
        parse_web_config(
            {"tls_server_config": {**section, "max_version": "TLS11"}}, source="w", base=pki.dir
        )


# -- readable secrets and keys ---------------------------------------------------------------


def _config_with_secret(tmp_path: Path, endpoint: str, mode: int) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "region": "cn-hangzhou",
                "endpoint": endpoint,
                "credentials": {
                    "access_key_id": DEMO_ENV["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                    "access_key_secret": DEMO_ENV["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                },
                "jobs": [{"id": JOB}],
            }
        )
    )
    config.chmod(mode)
    return config


def test_check_warns_about_a_readable_secret_and_key_file(tmp_path: Path, pki: Pki) -> None:
    sim = start_simulator("127.0.0.1", 0)
    try:
        runner = CliRunner()
        loose = ["--config", str(_config_with_secret(tmp_path, sim.url, 0o644))]
        loose += ["--web.config.file", str(_web(tmp_path, pki, 0o640))]
        result = runner.invoke(cli.main, ["check", *loose])
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert result.exit_code == 0, result.output
        assert len(warnings) == 2
        assert (
            "config.yaml holds an AccessKey secret but is readable by group or others"
            in (warnings[0])
        )
        assert "server.key (tls_server_config.key_file of " in warnings[1]
        assert "is readable by group or others (mode 640); run chmod 600" in warnings[1]
        (tmp_path / "config.yaml").chmod(0o600)
        (tmp_path / "server.key").chmod(0o600)
        result = runner.invoke(cli.main, ["check", *loose])
        assert result.exit_code == 0 and "warning:" not in result.stderr
    finally:
        sim.close()


@pytest.mark.slow  # the whole serve command, in process
def test_serve_warns_about_a_readable_key_file(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"region: cn-hangzhou\nendpoint: http://127.0.0.1:1\njobs: [{{id: {JOB}}}]\n")
    web = _web(tmp_path, pki, 0o644)
    monkeypatch.setattr(common, "wait_for_signals", lambda _on_reload: None)
    args = ["serve", "--listen-address", "127.0.0.1:0", "--config", str(config)]
    result = CliRunner().invoke(cli.main, [*args, "--web.config.file", str(web)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "insecure key file" in line]
    assert len(lines) == 1 and "readable by group or others (mode 644)" in lines[0]


# -- a FIFO as the config -------------------------------------------------------------------


def _in_thread(call: object) -> list[object]:
    """Runs `call` in a daemon thread (a FIFO would block it forever): its result or error."""
    got: list[object] = []

    def run() -> None:
        try:
            got.append(call())  # type: ignore[operator]
        except Exception as exc:
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "blocked on the FIFO"
    return got


def test_a_fifo_is_refused_as_config_and_web_config(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (error,) = _in_thread(lambda: load_config(fifo))
    assert isinstance(error, ConfigError)
    assert str(error) == f"config file {fifo} is not a regular file"
    (error,) = _in_thread(lambda: load_web_config(str(fifo)))
    assert isinstance(error, ConfigError)
    assert str(error) == f"web config file {fifo} is not a regular file"


def test_a_reload_from_a_fifo_keeps_the_old_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"region: cn-hangzhou\nendpoint: http://127.0.0.1:1\njobs: [{{id: {JOB}}}]\n")
    stats = ApiStats(actions.NAMES)
    runtime = Runtime(str(path), startup.start(str(path), stats), stats, None)
    try:
        old = runtime.config
        path.unlink()
        os.mkfifo(path)
        (answer,) = _in_thread(runtime.reload)
        assert answer == (
            False,
            f"reload rejected, old config kept: config file {path} is not a regular file",
        )
        assert runtime.config is old
    finally:
        runtime.close()


# -- bcrypt bounded --------------------------------------------------------------------------


def test_bcrypt_checks_are_bounded_and_successes_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bcrypt.checkpw
    lock = threading.Lock()
    running = [0]
    peak = [0]
    calls = [0]

    def counting(password: bytes, hashed: bytes) -> bool:
        with lock:
            running[0] += 1
            calls[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.02)  # as long as a real cost-10 check, so overlaps would show
            return bool(real(password, hashed))
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    config = WebConfig(basic_auth_users=(("alice", ALICE_HASH.encode()),))
    wrong = "Basic " + base64.b64encode(b"alice:guess").decode()
    right = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda: answers.append(config.authorize(wrong))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [False] * 20
    assert 1 <= peak[0] <= basicauth.BCRYPT_CONCURRENCY
    assert config.authorize(right)
    after_first = calls[0]
    assert all(config.authorize(right) for _ in range(5))
    assert calls[0] == after_first  # remembered: no bcrypt run for the same credentials


# -- keep-alive through the head reader -------------------------------------------------------


class _NoScrapes:
    def metrics(self, timeout: float | None) -> object:
        raise AssertionError("not scraped here")

    def probe(self, *args: object) -> object:
        raise AssertionError("not scraped here")


def test_keep_alive_and_pipelined_requests_are_all_answered() -> None:
    server = ExporterServer(_NoScrapes(), "127.0.0.1", 0)  # type: ignore[arg-type]
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            sock.sendall(request * 2)  # two at once: the second waits in the buffer
            stream = sock.makefile("rb")
            for _ in range(3):
                assert stream.readline().startswith(b"HTTP/1.1 200 ")
                while stream.readline() != b"\r\n":
                    pass
                assert stream.read(3) == b"ok\n"
                sock.sendall(request)  # the third on the same connection, later
            stream.close()
    finally:
        server.close()
