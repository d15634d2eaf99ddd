"""The command line's options, in process: every option's environment variable in --help,
`serve --log-level` (over the config, across reloads) and the demo's banner."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dts_exporter import cli
from dts_exporter.cli import common, exporter, simulation
from dts_exporter.lifecycle import Runtime
from dts_exporter.web import ExporterServer
from tests.conftest import DEMO_ENV


def options() -> list[tuple[str, click.Option]]:
    return [
        (name, param)
        for name, command in cli.main.commands.items()
        for param in command.params
        if isinstance(param, click.Option) and param.name != "help"
    ]


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """Commands set up logging on click's captured stderr: put the root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("command", "option"), options(), ids=[f"{c}{o.opts[0]}" for c, o in options()]
)
def test_every_option_has_an_environment_variable_shown_in_help(
    command: str, option: click.Option
) -> None:
    assert isinstance(option.envvar, str), f"{command} {option.opts[0]} has no envvar"
    prefixes = ("DTS_EXPORTER_", "DTS_SIMULATOR_") if command == "simulate" else ("DTS_EXPORTER_",)
    assert option.envvar.startswith(prefixes)
    result = CliRunner().invoke(cli.main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert f"env var: {option.envvar}" in result.output


# -- serve --log-level ----------------------------------------------------------------------


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.delenv("DTS_EXPORTER_LOG_LEVEL", raising=False)


def config(path: Path, level: str) -> str:
    path.write_text(
        f"region: cn-hangzhou\nendpoint: http://127.0.0.1:1\nlog_level: {level}\n"
        "jobs: [{id: dtsa}]\n",
        encoding="utf-8",
    )
    return str(path)


def serve(
    args: list[str],
    env: dict[str, str] | None = None,
    then: Callable[[Runtime], None] = lambda runtime: None,
) -> Runtime:
    """`serve` in process, stopped where it would wait for signals; `then` runs first."""
    got: list[Runtime] = []

    def instead(runtime: Runtime, *_: object, **__: object) -> None:
        got.append(runtime)
        try:
            then(runtime)
        finally:
            runtime.exporter.close()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exporter, "serve_until_signal", instead)
        result = CliRunner().invoke(cli.main, ["serve", *args], env=env)
    assert result.exit_code == 0, result.output
    return got[0]


@pytest.mark.usefixtures("serve_env")
def test_log_level_overrides_the_config_and_outlives_reloads(tmp_path: Path) -> None:
    path = config(tmp_path / "c.yaml", "error")
    levels: list[int] = []

    def reload_twice(runtime: Runtime) -> None:
        levels.append(logging.getLogger().level)
        assert runtime.reload()[0]  # the file still says error
        levels.append(logging.getLogger().level)
        (tmp_path / "c.yaml").write_text("region: [\n", encoding="utf-8")
        assert not runtime.reload()[0]  # rejected: the CLI's level is put back
        levels.append(logging.getLogger().level)

    runtime = serve(["--config", path, "--log-level", "debug"], then=reload_twice)
    assert runtime.config.log_level == "debug"
    assert levels == [logging.DEBUG] * 3


@pytest.mark.usefixtures("serve_env")
def test_log_level_from_the_environment_and_else_the_config(tmp_path: Path) -> None:
    path = config(tmp_path / "c.yaml", "error")
    runtime = serve(["--config", path], env={"DTS_EXPORTER_LOG_LEVEL": "warning"})
    assert runtime.config.log_level == "warning"
    assert serve(["--config", path]).config.log_level == "error"


def test_a_bad_log_level_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.main, ["serve", "--config", str(tmp_path / "c.yaml"), "--log-level", "loud"]
    )
    assert result.exit_code == 2 and "'loud' is not one of" in result.output


# -- the demo's banner ----------------------------------------------------------------------


def banner_for(host: str) -> tuple[str, int]:
    server = ExporterServer(object(), host, 0)  # type: ignore[arg-type]  # never scraped
    server.start()
    try:
        return simulation.demo_banner("http://127.0.0.1:8080", server), server.port
    finally:
        server.close()


def test_banner_shows_all_interfaces_as_bound_and_a_local_url_to_try() -> None:
    banner, port = banner_for("")
    assert f"exporter:          http://0.0.0.0:{port}/ (all interfaces; try " in banner
    assert f"try http://127.0.0.1:{port}/)" in banner
    assert f"curl -s http://127.0.0.1:{port}/metrics" in banner
    assert "simulated DTS API: http://127.0.0.1:8080" in banner


def test_banner_shows_a_loopback_address_as_it_is() -> None:
    banner, port = banner_for("127.0.0.1")
    assert f"exporter:          http://127.0.0.1:{port}/\n" in banner
    assert "all interfaces" not in banner


def test_demo_prints_the_address_it_binds() -> None:
    """The whole `demo` command in process, stopped where it would wait for signals."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, "wait_for_signals", lambda *_: None)
        result = CliRunner().invoke(cli.main, ["demo", "--listen-address", ":0"])
    assert result.exit_code == 0, result.output
    assert "exporter:          http://0.0.0.0:" in result.output
    assert "(all interfaces; try http://127.0.0.1:" in result.output
