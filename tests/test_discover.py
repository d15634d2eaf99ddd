"""`dts-exporter discover`: the table, the starter config, and every way it says no.

In-process through click against the in-process simulator; one test runs the real process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from dts_exporter.base.api import DESCRIBE_DTS_JOBS
from dts_exporter.cli import main
from dts_exporter.config import Config, DiscoveryConfig, load_config
from dts_exporter.discover import Found, Listing, starter_config
from dts_exporter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, SimulatorServer
from tests.conftest import DEMO_ENV, start_scenario
from tests.procs import run_cli


def entry(job_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "DtsInstanceID": job_id,
        "DtsJobId": f"job-{job_id}",
        "DtsJobName": name,
        "JobType": "SYNC",
        "Status": "Synchronizing",
        "Delay": 3,
        "Checkpoint": "1790000000",
        "SourceEndpoint": {"EngineName": "MySQL", "Region": "cn-hangzhou"},
        "DestinationEndpoint": {"EngineName": "PolarDB", "Region": "cn-hangzhou"},
        **fields,
    }


SCENARIO = {
    "dts_jobs": {
        "cn-hangzhou": [
            entry("dtsiorders01", "orders", TagList=[{"TagKey": "env", "TagValue": "prod"}]),
            entry("dtsibilling02", "billing", Status="Retrying", Delay=95),
            entry("dtsiarchive03", "archive", JobType="MIGRATION"),
        ],
        "cn-shanghai": [entry("dtsicatalog04", "catalog", Delay=0)],
        "cn-beijing": [],
    }
}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorServer]:
    server = start_scenario(tmp_path, SCENARIO)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The command sets up logging on the captured stderr: put the root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def config_file(tmp_path: Path, sim: SimulatorServer, **extra: Any) -> Path:
    document = {
        "region": "cn-hangzhou",
        "endpoint": sim.url,
        "max_retries": 0,
        "credentials": {
            "access_key_id": DEMO_ACCESS_KEY_ID,
            "access_key_secret": DEMO_ACCESS_KEY_SECRET,
        },
        **extra,
    }
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def discover(*args: str) -> Result:
    return CliRunner().invoke(main, ["discover", *args])


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_lists_the_regions_jobs_as_a_table(tmp_path: Path, sim: SimulatorServer) -> None:
    config = config_file(tmp_path, sim)
    result = discover("--config", str(config), "--region", "cn-hangzhou", "--region", "cn-shanghai")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert " ".join(lines[0].split()) == "REGION ID NAME STATUS DELAY SOURCE → DESTINATION"
    rows = [line.split() for line in lines[1:4]]
    assert rows == [
        ["cn-hangzhou", "dtsiorders01", "orders", "Synchronizing", "3s", "MySQL", "→", "PolarDB"],
        ["cn-hangzhou", "dtsibilling02", "billing", "Retrying", "95s", "MySQL", "→", "PolarDB"],
        ["cn-shanghai", "dtsicatalog04", "catalog", "Synchronizing", "0s", "MySQL", "→", "PolarDB"],
    ]
    assert "dtsiarchive03" not in result.stdout  # a migration job: not synchronization
    assert lines[4] == "3 synchronization job(s): 2 in cn-hangzhou, 1 in cn-shanghai"


def test_filters_by_name_pattern_and_tag(tmp_path: Path, sim: SimulatorServer) -> None:
    config = str(config_file(tmp_path, sim))
    by_name = discover("--config", config, "--name-pattern", "^bill")
    assert by_name.exit_code == 0 and "dtsibilling02" in by_name.stdout
    assert "dtsiorders01" not in by_name.stdout
    by_tag = discover("--config", config, "--tag", "env=prod")
    assert by_tag.exit_code == 0 and "dtsiorders01" in by_tag.stdout
    assert "dtsibilling02" not in by_tag.stdout


def test_without_region_lists_the_configs_discovery_regions(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    config = config_file(tmp_path, sim, discovery={"regions": ["cn-shanghai"], "enabled": True})
    result = discover("--config", str(config))
    assert result.exit_code == 0, result.output
    assert "dtsicatalog04" in result.stdout and "dtsiorders01" not in result.stdout


def test_write_config_writes_a_config_that_loads_and_names_the_jobs(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    config = config_file(tmp_path, sim)
    out = tmp_path / "dts-exporter.yaml"
    result = discover(
        "--config", str(config), "--region", "cn-hangzhou", "--region", "cn-shanghai",
        "--write-config", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 3 job(s)" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# dts-exporter config written by `dts-exporter discover`")
    loaded = load_config(out)
    assert loaded.region == "cn-hangzhou"
    assert loaded.endpoint == sim.url  # --config named one
    assert [(j.id, j.name, j.region) for j in loaded.jobs] == [
        ("dtsiorders01", "orders", None),
        ("dtsibilling02", "billing", None),
        ("dtsicatalog04", "catalog", "cn-shanghai"),
    ]
    assert "credentials" not in yaml.safe_load(text)  # never the config's secrets


def test_starter_config_has_no_endpoint_unless_given() -> None:
    config = Config(region="cn-hangzhou", discovery=DiscoveryConfig(True, ("cn-hangzhou",)))
    listing = Listing((Found("cn-hangzhou"),), "")
    assert "endpoint" not in yaml.safe_load(starter_config(config, listing))
    given = starter_config(config, listing, endpoint="http://127.0.0.1:8080")
    assert yaml.safe_load(given)["endpoint"] == "http://127.0.0.1:8080"


def test_write_config_never_overwrites(tmp_path: Path, sim: SimulatorServer) -> None:
    out = tmp_path / "existing.yaml"
    out.write_text("mine\n", encoding="utf-8")
    before = sim.request_counts().get(DESCRIBE_DTS_JOBS, 0)
    result = discover("--config", str(config_file(tmp_path, sim)), "--write-config", str(out))
    assert result.exit_code == 2
    assert one_line(result) == (
        f"dts-exporter: error: --write-config: {out} already exists; not overwriting it "
        "(remove it or pick another)"
    )
    assert out.read_text(encoding="utf-8") == "mine\n"
    assert sim.request_counts().get(DESCRIBE_DTS_JOBS, 0) == before  # refused before calling


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "cn hz"], "--region: invalid value 'cn hz' (e.g. cn-hangzhou)"),
        (["--name-pattern", "("], "--name-pattern: invalid regular expression '('"),
        (["--tag", "env"], "--tag: invalid value 'env' (KEY=VALUE)"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, sim: SimulatorServer, args: list[str], message: str
) -> None:
    result = discover("--config", str(config_file(tmp_path, sim)), *args)
    assert result.exit_code == 2
    assert one_line(result).startswith(f"dts-exporter: error: {message}")


def test_a_region_or_a_config_is_needed() -> None:
    result = discover()
    assert result.exit_code == 2
    assert (
        one_line(result) == "dts-exporter: error: --region: give at least one region, or --config"
    )


def test_a_bad_config_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("region: cn-hangzhou\ncocurrency: 3\n", encoding="utf-8")
    result = discover("--config", str(tmp_path / "c.yaml"))
    assert result.exit_code == 2
    expected = f"dts-exporter: error: {tmp_path / 'c.yaml'}: cocurrency: unknown key"
    assert one_line(result).startswith(expected)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--region", "cn-beijing"], "discovery found no synchronization job in cn-beijing"),
        (
            ["--name-pattern", "^nothing"],
            "name_pattern '^nothing' matched none of the 2 synchronization job(s) in cn-hangzhou",
        ),
        (
            ["--tag", "env=staging"],
            "discovery found no synchronization job with tags env=staging in cn-hangzhou",
        ),
    ],
)
def test_no_jobs_found_says_why_and_exits_1(
    tmp_path: Path, sim: SimulatorServer, args: list[str], why: str
) -> None:
    out = tmp_path / "out.yaml"
    config = str(config_file(tmp_path, sim))
    result = discover("--config", config, *args, "--write-config", str(out))
    assert result.exit_code == 1
    assert one_line(result) == f"dts-exporter: no jobs: {why}"
    assert result.stdout == "" and not out.exists()


def test_an_api_failure_prints_the_code_and_exits_1(tmp_path: Path, sim: SimulatorServer) -> None:
    config = config_file(
        tmp_path, sim, credentials={"access_key_id": "LTAIwrong", "access_key_secret": "x"}
    )
    out = tmp_path / "out.yaml"
    result = discover("--config", str(config), "--write-config", str(out))
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith(
        "dts-exporter: error: DescribeDtsJobs in cn-hangzhou failed: InvalidAccessKeyId.NotFound: "
    )
    assert not out.exists()


@pytest.mark.slow
def test_discover_as_a_process(tmp_path: Path, sim: SimulatorServer) -> None:
    """The real command: credentials from the environment, the endpoint from --config."""
    (tmp_path / "c.yaml").write_text(f"region: cn-hangzhou\nendpoint: {sim.url}\n")
    out = tmp_path / "new.yaml"
    args = ["discover", "--config", str(tmp_path / "c.yaml"), "--write-config", str(out)]
    result = run_cli(args, env=DEMO_ENV)
    assert result.returncode == 0, result.stderr
    assert "dtsiorders01" in result.stdout and "Retrying" in result.stdout
    assert [job.id for job in load_config(out).jobs] == ["dtsiorders01", "dtsibilling02"]
    again = run_cli(args, env=DEMO_ENV)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
