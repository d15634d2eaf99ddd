"""Every credential source, end to end: a real exporter process against a real simulator
process (standing in for DTS, STS, ECS metadata and a credentials URI), the source chosen
only by environment variables and files, as on a real host."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS as INIT
from dts_exporter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, DEMO_JOBS
from tests.conftest import DEMO_ENV, Scrape
from tests.procs import Process, free_port, run_cli

pytestmark = pytest.mark.slow  # starts the simulator and exporters as processes

ROLE = "acs:ram::1111111111111111:role/dts-reader"
CROSS_ROLE = "acs:ram::2222222222222222:role/dts-cross-account"
PROVIDER = "acs:ram::1111111111111111:oidc-provider/ack-rrsa-c0ffee"
LIFETIME = 6.0  # seconds: every temporary credential the simulator hands out
JOB = DEMO_JOBS[0].job_id


@dataclass
class Cloud:
    url: str
    token_file: Path
    config: Path
    tmp: Path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp = tmp_path_factory.mktemp("cloud")
    token = tmp / "token"
    token.write_text("oidc-token-1\n")
    port = free_port()
    sim = Process(
        [
            "simulate",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--role-arn",
            ROLE,
            "--role-arn",
            CROSS_ROLE,
            "--oidc-provider-arn",
            PROVIDER,
            "--oidc-token-file",
            str(token),
            "--ecs-role",
            "dts-ecs-role",
            "--sts-duration-seconds",
            str(LIFETIME),
        ],
        tmp / "simulator.log",
    )
    url = f"http://127.0.0.1:{port}"
    sim.wait_http(f"{url}/_simulator/requests")
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "region": "cn-hangzhou",
                "endpoint": url,
                "sts_endpoint": url,
                "ecs_metadata_endpoint": url,
                "jobs": [{"id": JOB}],
            }
        )
    )
    yield Cloud(url, token, config, tmp)
    sim.stop()


def home_with(tmp: Path, files: dict[str, str]) -> Path:
    home = tmp / f"home-{time.monotonic_ns()}"
    for relative, content in files.items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    home.mkdir(exist_ok=True)
    return home


@dataclass
class Running:
    url: str
    process: Process

    def scrape(self) -> Scrape:
        return Scrape.from_text(requests.get(f"{self.url}/metrics", timeout=30).text)


@pytest.fixture
def start(cloud: Cloud) -> Iterator[object]:
    started: list[Process] = []

    def run(env: dict[str, str], config: Path | None = None) -> Running:
        port = free_port()
        process = Process(
            [
                "serve",
                "--config",
                str(config or cloud.config),
                "--listen-address",
                f"127.0.0.1:{port}",
            ],
            cloud.tmp / f"exporter-{port}.log",
            env=env,
        )
        started.append(process)
        process.wait_http(f"http://127.0.0.1:{port}/healthz")
        return Running(f"http://127.0.0.1:{port}", process)

    yield run
    for process in started:
        process.stop()


CLI_AK = json.dumps(
    {
        "current": "dts",
        "profiles": [
            {
                "name": "dts",
                "mode": "AK",
                "access_key_id": DEMO_ACCESS_KEY_ID,
                "access_key_secret": DEMO_ACCESS_KEY_SECRET,
                "region_id": "cn-hangzhou",
            }
        ],
    }
)
CLI_ROLE = json.dumps(
    {
        "current": "other",
        "profiles": [
            {"name": "other", "mode": "AK", "access_key_id": "LTAIother", "access_key_secret": "x"},
            {
                "name": "assume",
                "mode": "RamRoleArn",
                "access_key_id": DEMO_ACCESS_KEY_ID,
                "access_key_secret": DEMO_ACCESS_KEY_SECRET,
                "ram_role_arn": ROLE,
                "ram_session_name": "dts-exporter",
            },
        ],
    }
)
INI = (
    "[default]\ntype = access_key\n"
    f"access_key_id = {DEMO_ACCESS_KEY_ID}\naccess_key_secret = {DEMO_ACCESS_KEY_SECRET}\n"
)


def cases(cloud: Cloud, tmp: Path) -> dict[str, tuple[dict[str, str], str]]:
    """Provider name -> (environment, expected provider name)."""
    return {
        "environment": (DEMO_ENV, "environment"),
        "rrsa": (
            {
                "ALIBABA_CLOUD_ROLE_ARN": ROLE,
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(cloud.token_file),
            },
            "rrsa_oidc",
        ),
        "cli-ak": (
            {"HOME": str(home_with(tmp, {".aliyun/config.json": CLI_AK}))},
            "cli_profile:dts",
        ),
        "cli-role": (
            {
                "HOME": str(home_with(tmp, {".aliyun/config.json": CLI_ROLE})),
                "ALIBABA_CLOUD_PROFILE": "assume",
            },
            "cli_profile:assume",
        ),
        "ini": (
            {"HOME": str(home_with(tmp, {".alibabacloud/credentials.ini": INI}))},
            "credentials_ini:default",
        ),
        "ecs": ({"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "false"}, "ecs_ram_role"),
        "uri": (
            {"ALIBABA_CLOUD_CREDENTIALS_URI": f"{cloud.url}/credentials-uri"},
            "credentials_uri",
        ),
    }


@pytest.mark.parametrize("case", ["environment", "rrsa", "cli-ak", "cli-role", "ini", "ecs", "uri"])
def test_each_source_of_the_chain(cloud: Cloud, start: object, case: str) -> None:
    env, provider = cases(cloud, cloud.tmp)[case]
    running = start(env)  # type: ignore[operator]
    data = running.scrape()
    assert data.get("dts_up", action=INIT, job_id=JOB, task_id="") == 1, running.process.output()
    assert f"credentials={provider}" in running.process.output()
    check = run_cli(["check", "--config", str(cloud.config)], env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"credentials: {provider}" in check.stdout
    assert DEMO_ACCESS_KEY_SECRET not in running.process.output() + check.stdout + check.stderr


def test_cross_account_role(cloud: Cloud, start: object) -> None:
    config = cloud.tmp / "cross.yaml"
    settings = yaml.safe_load(cloud.config.read_text())
    settings["credentials"] = {"ram_role_arn": CROSS_ROLE, "role_session_name": "dts-exporter"}
    config.write_text(yaml.safe_dump(settings))
    running = start(DEMO_ENV, config)  # type: ignore[operator]
    data = running.scrape()
    assert data.get("dts_up", action=INIT, job_id=JOB, task_id="") == 1
    assert (
        data.get("dts_exporter_credential_refreshes_total", provider="ram_role_arn", code="Success")
        == 1
    )
    counts = requests.get(f"{cloud.url}/_simulator/requests", timeout=5).json()
    assert counts.get("AssumeRole", 0) >= 1


def test_refresh_ahead_of_expiry_rotation_and_a_failed_refresh(cloud: Cloud, start: object) -> None:
    env, _ = cases(cloud, cloud.tmp)["rrsa"]
    running = start(env)  # type: ignore[operator]
    began = time.monotonic()
    assert running.scrape().get("dts_up", action=INIT, job_id=JOB, task_id="") == 1

    # Kubernetes rotates the token: the next refresh must read the new one (the simulator
    # accepts only the file's current content, so a cached token would be refused).
    cloud.token_file.write_text("oidc-token-2\n")
    time.sleep(max(0.0, began + LIFETIME * 0.8 - time.monotonic()))
    data = running.scrape()
    assert data.get("dts_up", action=INIT, job_id=JOB, task_id="") == 1
    assert (
        data.get("dts_exporter_credential_refreshes_total", provider="rrsa_oidc", code="Success")
        == 2
    )

    # The token becomes unreadable: once the credentials expire, ids read dts_up 0 with the
    # refresh's code, and the process keeps serving.
    cloud.token_file.write_text("")
    refreshed = time.monotonic()
    time.sleep(max(0.0, refreshed + LIFETIME + 0.5 - time.monotonic()))
    data = running.scrape()
    assert data.get("dts_up", action=INIT, job_id=JOB, task_id="") == 0
    failed = data.get(
        "dts_exporter_credential_refreshes_total",
        provider="rrsa_oidc",
        code="CredentialsUnavailable",
    )
    assert failed is not None and failed >= 1

    # Fixed: the next scrape refreshes and recovers.
    cloud.token_file.write_text("oidc-token-3\n")
    data = running.scrape()
    assert data.get("dts_up", action=INIT, job_id=JOB, task_id="") == 1
    assert running.process.proc.poll() is None
    assert "oidc-token" not in running.process.output()
