"""What a user sees from the command line when something is wrong: one line, exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dts_exporter import __version__
from tests.procs import run_cli

pytestmark = pytest.mark.slow  # every test runs the CLI as a process

CREDS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIexample",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t-value",
}
GOOD = "region: cn-hangzhou\nendpoint: http://127.0.0.1:1\njobs:\n  - id: dtsa\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region: cn-hangzhou\njobs:\n  - name: x\n", "jobs[0].id: missing required key"),
        ("region: cn-hangzhou\njobs: []\ncocurrency: 3\n", "cocurrency: unknown key"),
        (
            "region: cn-hangzhou\nconcurrency: many\njobs: [{id: a}]\n",
            "concurrency: expected an integer, got string 'many'",
        ),
        (
            "region: cn-hangzhou\njobs: [{id: a, modify_tasks: k1}]\n",
            "jobs[0].modify_tasks: expected a list, got string 'k1'",
        ),
        ("region: [\n", "invalid YAML at line 2"),
        ("", "the file is empty"),
        ("region: cn-hangzhou\njobs: []\n", "jobs: no jobs configured"),
        (
            "region: cn-hangzhou\nlog_level: verbose\njobs: [{id: a}]\n",
            "log_level: expected one of debug, info, warning, error",
        ),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_cli(["serve", "--config", str(path)], env=CREDS)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dts-exporter: error: {path}: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_unreadable_config(tmp_path: Path) -> None:
    result = run_cli(["serve", "--config", str(tmp_path / "missing.yaml")], env=CREDS)
    assert result.returncode == 2
    missing = tmp_path / "missing.yaml"
    expected = f"dts-exporter: error: {missing}: cannot read file: No such file or directory"
    assert result.stderr.strip() == expected


def test_missing_credentials(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(GOOD)
    result = run_cli(["serve", "--config", str(tmp_path / "c.yaml")])
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "dts-exporter: error: no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID"
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("9881", "expected HOST:PORT"),
        ("127.0.0.1:99999", "port must be a number from 0 to 65535"),
        ("::1:80", "write IPv6 addresses as [ADDR]:PORT"),
    ],
)
def test_bad_listen_address(tmp_path: Path, address: str, message: str) -> None:
    (tmp_path / "c.yaml").write_text(GOOD)
    result = run_cli(
        ["serve", "--config", str(tmp_path / "c.yaml"), "--listen-address", address], env=CREDS
    )
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(GOOD)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            [
                "serve",
                "--config",
                str(tmp_path / "c.yaml"),
                "--listen-address",
                f"127.0.0.1:{port}",
            ],
            env=CREDS,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "s3cr3t-value" not in result.stderr + result.stdout


def test_bad_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("jobs: {dtsa: {DataInitializationDetails: 5}}\n")
    result = run_cli(
        ["simulate", "--listen-address", "127.0.0.1:0", "--scenario", str(tmp_path / "s.yaml")]
    )
    assert result.returncode == 2
    assert (
        "DataInitializationDetails" in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.returncode == 0 and __version__ in result.stdout
