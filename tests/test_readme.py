"""The README's references stay in step with the code: metrics, config keys, commands and
their options, environment variables, the scenario format, the demo, the dependencies."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import click
import yaml

from dts_exporter import cli
from dts_exporter.config import Config, JobConfig, parse_config
from dts_exporter.config.keys import declarations
from dts_exporter.exposition import ALL_METRICS
from dts_exporter.simulator import DEMO_JOBS, DEMO_MIGRATION_JOB_ID, FAULT_KINDS, parse_scenario
from dts_exporter.simulator.scenario import TOP_LEVEL_KEYS as SCENARIO_KEYS
from tests.conftest import ROOT
from tests.golden import (
    CONFIG_EXAMPLES,
    README_PATH,
    with_config_reference,
    with_metric_table,
    with_options_reference,
)

README = README_PATH.read_text(encoding="utf-8")


def _metric_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    block = README.split("<!-- metrics:start -->", 1)[1].split("<!-- metrics:end -->", 1)[0]
    rows = []
    for line in block.splitlines():
        match = re.match(r"^\| `([a-z_]+)` \| (\w+) \| ([^|]*) \|", line)
        if match:
            labels = tuple(
                x.strip() for x in match.group(3).split(",") if x.strip() not in ("", "—")
            )
            rows.append((match.group(1), match.group(2), labels))
    return rows


def test_readme_documents_exactly_the_declared_metrics() -> None:
    """After an intended change, regenerate the table with `.venv/bin/python -m
    tools.regenerate`; the test always compares."""
    assert with_metric_table(README) == README
    declared = [
        (m.name + ("_total" if m.type == "counter" else ""), m.type, m.labels) for m in ALL_METRICS
    ]
    assert _metric_rows() == declared


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/demo" in README and "./scripts/test" in README
    assert (ROOT / "scripts" / "demo").exists() and (ROOT / "scripts" / "test").exists()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci


def _code_map() -> dict[str, str]:
    block = README.split("## Code map", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in block.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.*) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_code_map_covers_every_module_of_the_package() -> None:
    rows = _code_map()
    package = ROOT / "dts_exporter"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if path.name in ("__init__.py", "__main__.py") and path.parent == package:
            continue
        if path.parent == package:
            if str(relative) not in rows:
                missing.append(str(relative))
        elif path.name != "__init__.py":
            folder = f"{relative.parts[0]}/{relative.parts[1]}/"
            if f"`{path.stem}`" not in rows.get(folder, ""):
                missing.append(str(relative))
    assert missing == [], "modules the README's code map does not name"
    stale = [path for path in rows if not (ROOT / path).exists()]
    assert stale == [], "code map rows naming paths that do not exist"


def _section(heading: str) -> str:
    """The README's text from `heading` (a whole heading line) to the next heading of its
    level or above."""
    level = heading.split(" ", 1)[0]
    body = README.split(f"\n{heading}\n", 1)[1]
    ends = [body.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)]
    return body[: min([end for end in ends if end >= 0] or [len(body)])]


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)


# -- configuration --------------------------------------------------------------------------


def test_the_first_config_example_is_a_production_config() -> None:
    """No endpoint (it follows from the region), and it loads as it is."""
    first = _yaml_blocks(README)[0]
    assert "\njobs:" in first
    assert not re.search(r"^\s*endpoint:", first, re.MULTILINE), "an active endpoint line"
    config = parse_config(yaml.safe_load(first), source="README")
    assert config.endpoint is None and config.jobs


def _config_reference() -> Any:
    block = README.split("<!-- config-keys:start -->", 1)[1].split("<!-- config-keys:end -->")[0]
    (text,) = _yaml_blocks(block)
    return yaml.safe_load(text)


def _walk(section: type, written: dict[str, Any], path: str, wrong: list[str]) -> None:
    declared = {d.name: d for d in declarations(section)}
    wrong.extend(f"{path}{name}: not in the README" for name in declared if name not in written)
    wrong.extend(f"{path}{name}: no such key" for name in written if name not in declared)
    for name, d in declared.items():
        if name not in written:
            continue
        value, where = written[name], f"{path}{name}"
        if dataclasses.is_dataclass(d.kind):
            assert isinstance(d.kind, type)
            _walk(d.kind, value or {}, f"{where}.", wrong)
        elif name == "jobs":
            for item in value:
                _walk(JobConfig, item, f"{where}[].", wrong)
        elif d.required:
            assert f"{path}{name}" in CONFIG_EXAMPLES or value is not None
        elif not (value is None and d.default in (None, "")):  # null: unset
            default = list(d.default) if isinstance(d.default, tuple) else d.default
            if value != default:
                wrong.append(f"{where}: README says {value!r}, the default is {d.default!r}")


def test_readme_lists_every_config_key_with_its_default() -> None:
    """After an intended change, regenerate with `.venv/bin/python -m tools.regenerate`."""
    assert with_config_reference(README) == README
    written = _config_reference()
    wrong: list[str] = []
    _walk(Config, written, "", wrong)
    assert wrong == []
    loaded = parse_config(written, source="README")  # the defaults plus one job
    assert loaded == Config(region=loaded.region, jobs=(JobConfig(id=loaded.jobs[0].id),))


# -- commands, options, environment variables -------------------------------------------------


def _options() -> dict[str, list[click.Option]]:
    return {
        name: [p for p in command.params if isinstance(p, click.Option) and p.name != "help"]
        for name, command in cli.main.commands.items()
    }


def test_readme_documents_every_command_and_option() -> None:
    """The options block is click's own declarations (regenerate after a change); each
    command also has a row in the Commands table."""
    assert with_options_reference(README) == README
    block = README.split("<!-- options:start -->", 1)[1].split("<!-- options:end -->")[0]
    parts = re.split(r"^\*\*`dts-exporter ([a-z-]+)`\*\*", block, flags=re.MULTILINE)
    documented = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert sorted(documented) == sorted(_options())
    for name, options in _options().items():
        for option in options:
            for flag in option.opts + option.secondary_opts:
                assert f"`{flag}`" in documented[name], f"{name} {flag}"
    commands = _section("### Commands")
    for name in cli.main.commands:
        assert f"| `dts-exporter {name}" in commands, f"{name}: no row in the Commands table"
    assert "`dts-exporter config-schema`" in commands


def _env_table() -> dict[str, tuple[set[str], str]]:
    rows = {}
    for line in _section("### Environment variables").splitlines():
        match = re.match(
            r"^\| `((?:DTS_EXPORTER|DTS_SIMULATOR)_\w+)` \| ([^|]*) \| `([^`]+)` \|", line
        )
        if match:
            commands = {c.strip() for c in match.group(2).split(",")}
            rows[match.group(1)] = (commands, match.group(3))
    return rows


def test_readme_lists_every_environment_variable_the_cli_reads() -> None:
    declared: dict[str, tuple[set[str], str]] = {}
    for name, options in _options().items():
        for option in options:
            assert isinstance(option.envvar, str)
            commands, _ = declared.setdefault(option.envvar, (set(), option.opts[0]))
            commands.add(name)
    cli = ROOT / "dts_exporter" / "cli"
    sources = "".join(path.read_text() for path in sorted(cli.glob("*.py")))
    in_source = set(re.findall(r'envvar="(\w+)"', sources))
    assert in_source <= set(declared)
    assert _env_table() == declared


def test_readme_lists_the_alibaba_cloud_variables_the_credential_chain_reads() -> None:
    read = set()
    for path in (ROOT / "dts_exporter").rglob("*.py"):
        if "simulator" not in path.parts:
            read |= set(re.findall(r'"(ALIBABA_CLOUD_\w+)"', path.read_text(encoding="utf-8")))
    section = _section("### Environment variables")
    assert sorted(name for name in read if f"`{name}`" not in section) == []
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in read  # the search found the chain


# -- the simulator and the demo ----------------------------------------------------------------


def test_readme_documents_the_scenario_format() -> None:
    section = _section("## The simulator")
    scenario = yaml.safe_load(_yaml_blocks(section)[0])
    assert sorted(scenario) == sorted(SCENARIO_KEYS)  # every top-level key, nothing else
    parsed = parse_scenario(scenario, "README")
    assert parsed.jobs and parsed.tasks and parsed.dts_jobs and parsed.dts_job_details
    assert parsed.check_jobs
    forms = set(parsed.faults)  # a job id, a task id, <action>:<id>, an action, *, STS
    assert "*" in forms and any(":" in key for key in forms) and "AssumeRole" in forms
    assert [kind for kind in FAULT_KINDS if f"`{kind}`" not in section] == []


def test_readme_demo_table_is_the_simulators_demo() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| (\w+) \| `(\w+)` \|", _section("### The built-in demo"), re.MULTILINE
    )
    assert rows == [(job.job_id, job.name, *job.task_ids) for job in DEMO_JOBS]
    known = {job.job_id for job in DEMO_JOBS} | {DEMO_MIGRATION_JOB_ID}
    named = set(re.findall(r"\bdtsi0\d[a-z0-9]+", README))
    assert named - known == set(), "README names demo ids the simulator does not have"


# -- installing and testing ------------------------------------------------------------------


def test_readme_lists_the_runtime_dependencies() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.DOTALL | re.MULTILINE)
    assert block is not None
    required = {
        re.split(r"[<>=!~;\[ ]", item, maxsplit=1)[0].lower()
        for item in re.findall(r'"([^"]+)"', block.group(1))
    }
    listed = re.search(r"# runtime deps: (.*)$", README, re.MULTILINE)
    assert listed is not None
    assert {name.strip().lower() for name in listed.group(1).split(",")} == required


def test_readme_says_how_long_the_test_command_takes_and_what_it_installs() -> None:
    tests = _section("### Tests")
    assert re.search(r"`\./scripts/test`.*takes about\s+\d+(\.\d+)? minutes", tests, re.DOTALL)
    assert "apt-get" in tests and "root" in tests
