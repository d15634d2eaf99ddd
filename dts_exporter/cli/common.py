"""What every command shares: one-line failures (exit 2), start-up, serving until a signal,
and the options several commands take."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click

from dts_exporter.base.errors import ConfigError
from dts_exporter.config import Config, LogLevel
from dts_exporter.lifecycle import Runtime, shut_down, wait_for_signals
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import Started, StartupError, start
from dts_exporter.web import DEFAULT_LISTEN_ADDRESS, ExporterServer, parse_listen_address
from dts_exporter.webconfig import WebConfig

EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    click.echo(f"dts-exporter: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def start_or_fail(
    source: str | Config,
    stats: ApiStats,
    shard: tuple[int, int] | None = None,
    log_level: LogLevel | None = None,
) -> Started:
    try:
        return start(source, stats, shard=shard, log_level=log_level)
    except StartupError as exc:
        fail(str(exc))


def parse_address(value: str) -> tuple[str, int]:
    try:
        return parse_listen_address(value)
    except ConfigError as exc:
        fail(str(exc))


def serve_until_signal(
    runtime: Runtime,
    host: str,
    port: int,
    announce: Callable[[ExporterServer], None],
    web_config: WebConfig | None = None,
    enable_lifecycle: bool = False,
) -> None:
    """Serve until SIGTERM or SIGINT; SIGHUP (and POST /-/reload, with `enable_lifecycle`)
    reload a config file."""
    try:
        server = ExporterServer(
            runtime.exporter,
            host,
            port,
            timeout_offset=runtime.config.scrape_timeout_offset_seconds,
            web_config=web_config,
            reloader=runtime.reloader if enable_lifecycle else None,
        )
    except ConfigError as exc:
        runtime.exporter.close()
        fail(str(exc))
    runtime.server = server
    server.start()
    announce(server)
    try:
        wait_for_signals(runtime.reloader)
    finally:
        shut_down(server, runtime.config.scrape_timeout_seconds + 5.0)
        runtime.close()


listen_option = click.option(
    "--listen-address",
    "--web.listen-address",
    "listen_address",
    default=DEFAULT_LISTEN_ADDRESS,
    show_default=True,
    envvar="DTS_EXPORTER_LISTEN_ADDRESS",
    show_envvar=True,
    help="HOST:PORT to serve /metrics on (':PORT' for all interfaces).",
)
config_option = click.option(
    "--config",
    "--config.file",
    "config_path",
    required=True,
    envvar="DTS_EXPORTER_CONFIG",
    show_envvar=True,
    help="YAML config file (see README).",
)


demo_offset_option = click.option(
    "--demo-offset",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    envvar="DTS_EXPORTER_DEMO_OFFSET",
    show_envvar=True,
    help="Start the built-in demo as if it had been running this many seconds.",
)
