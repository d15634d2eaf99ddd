"""The exporter's own commands: serve, check, discover, config-schema."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys

import click

from dts_exporter import __version__, actions
from dts_exporter import discover as discovering
from dts_exporter.base.errors import ConfigError
from dts_exporter.base.logfmt import quote, setup_logging
from dts_exporter.check import format_table, run_checks
from dts_exporter.cli.common import (
    config_option,
    fail,
    listen_option,
    parse_address,
    serve_until_signal,
    start_or_fail,
)
from dts_exporter.config import LOG_LEVELS, LogLevel, secret_file_warnings
from dts_exporter.config.schema import json_schema_text
from dts_exporter.lifecycle import Runtime, exit_without_stuck_workers, return_freed_memory
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import StartupError, load, make_client, probe_credentials
from dts_exporter.web import ExporterServer
from dts_exporter.webconfig import key_file_warnings, load_web_config

log = logging.getLogger("dts_exporter")


def _shard(index: str | None, count: int | None) -> tuple[int, int] | None:
    """--shard-index/--shard-count; index `hostname` takes the trailing number of the host
    name, i.e. a StatefulSet pod's ordinal."""
    if index is None and count is None:
        return None
    if index is None or count is None:
        fail("--shard-index and --shard-count go together")
    if index == "hostname":
        host = os.environ.get("HOSTNAME") or socket.gethostname()
        match = re.search(r"(\d+)$", host)
        if match is None:
            fail(f"--shard-index hostname: host name {host!r} does not end in a number")
        index = match.group(1)
    if not index.isdigit() or not 0 <= int(index) < count:
        fail(f"--shard-index must be a number from 0 to {count - 1} (or 'hostname'), got {index!r}")
    return int(index), count


@click.command()
@config_option
@listen_option
@click.option(
    "--shard-index",
    envvar="DTS_EXPORTER_SHARD_INDEX",
    show_envvar=True,
    help="This replica's shard (0..count-1), or 'hostname' for a StatefulSet ordinal.",
)
@click.option(
    "--shard-count",
    type=click.IntRange(min=1),
    envvar="DTS_EXPORTER_SHARD_COUNT",
    show_envvar=True,
    help="Replicas sharing the jobs by a stable hash of job_id.",
)
@click.option(
    "--web.config.file",
    "web_config_path",
    envvar="DTS_EXPORTER_WEB_CONFIG_FILE",
    show_envvar=True,
    help="exporter-toolkit web config: TLS (optionally mTLS) and basic auth users.",
)
@click.option(
    "--web.enable-lifecycle",
    "enable_lifecycle",
    is_flag=True,
    envvar="DTS_EXPORTER_WEB_ENABLE_LIFECYCLE",
    show_envvar=True,
    help="Enable POST /-/reload (off: 403; SIGHUP reloads either way).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    envvar="DTS_EXPORTER_LOG_LEVEL",
    show_envvar=True,
    help="Log level; overrides the config's log_level, also after a reload.",
)
def serve(
    config_path: str,
    listen_address: str,
    shard_index: str | None,
    shard_count: int | None,
    web_config_path: str | None,
    enable_lifecycle: bool,
    log_level: LogLevel | None,
) -> None:
    """Serve metrics for the configured DTS jobs."""
    shard = _shard(shard_index, shard_count)
    web_config = None
    if web_config_path:
        try:
            web_config = load_web_config(web_config_path)
        except ConfigError as exc:
            fail(str(exc))
    host, port = parse_address(listen_address)
    stats = ApiStats(actions.NAMES)
    started = start_or_fail(config_path, stats, shard, log_level)
    config = started.config
    return_freed_memory()
    for warning in key_file_warnings(web_config) if web_config is not None else []:
        log.warning("insecure key file message=%s", quote(warning))

    def announce(server: ExporterServer) -> None:
        log.info(
            "listening address=%s version=%s jobs=%d tasks=%d discovery=%s credentials=%s "
            "shard=%s tls=%s basic_auth=%s lifecycle=%s",
            server.url(server.host),
            __version__,
            len(config.jobs),
            sum(len(job.modify_tasks) for job in config.jobs),
            ",".join(config.discovery.regions) if config.discovery.enabled else "off",
            started.credentials.name,
            f"{shard[0]}/{shard[1]}" if shard else "none",
            "on" if web_config is not None and web_config.tls is not None else "off",
            "on" if web_config is not None and web_config.users else "off",
            "on" if enable_lifecycle else "off",
        )

    runtime = Runtime(config_path, started, stats, shard, log_level)
    serve_until_signal(runtime, host, port, announce, web_config, enable_lifecycle)
    exit_without_stuck_workers(runtime.config.scrape_timeout_seconds)


@click.command()
@config_option
@click.option(
    "--web.config.file",
    "web_config_path",
    envvar="DTS_EXPORTER_WEB_CONFIG_FILE",
    show_envvar=True,
    help="Also validate this exporter-toolkit web config, as serve reads it.",
)
def check(config_path: str, web_config_path: str | None) -> None:
    """Call each action once per configured id and print the results."""
    try:
        config = load(config_path)
        warnings = secret_file_warnings(config_path, config)
        if web_config_path:
            warnings += key_file_warnings(load_web_config(web_config_path))
        setup_logging("error")
        credentials = probe_credentials(config)
    except (StartupError, ConfigError) as exc:
        fail(str(exc))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    client = make_client(config, credentials)
    try:
        report = run_checks(config, client)
    finally:
        client.close()
    click.echo(
        f"endpoint: {client.endpoint}  region: {config.region}  "
        f"signature: {config.signature_version}  credentials: {credentials.name}"
    )
    click.echo(format_table(report.rows))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"{len(report.rows) - report.failed} passed, {report.failed} failed")
    sys.exit(1 if report.failed or report.monitors_nothing else 0)


@click.command()
@click.option(
    "--region",
    "regions",
    multiple=True,
    envvar="DTS_EXPORTER_REGION",
    show_envvar=True,
    help="Region to list (repeat for more; the variable takes several, space-separated).",
)
@click.option(
    "--name-pattern",
    default="",
    envvar="DTS_EXPORTER_NAME_PATTERN",
    show_envvar=True,
    help="Only jobs whose name matches this regular expression.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    envvar="DTS_EXPORTER_TAG",
    show_envvar=True,
    help="KEY=VALUE: only jobs carrying this tag (repeat for more: all must match).",
)
@click.option(
    "--write-config",
    "write_config",
    envvar="DTS_EXPORTER_WRITE_CONFIG",
    show_envvar=True,
    help="Write a starter config monitoring the jobs found to this new file.",
)
@click.option(
    "--config",
    "--config.file",
    "config_path",
    envvar="DTS_EXPORTER_CONFIG",
    show_envvar=True,
    help="Take endpoint, credentials, signature and limits from this config.",
)
def discover(
    regions: tuple[str, ...],
    name_pattern: str,
    tags: tuple[str, ...],
    write_config: str | None,
    config_path: str | None,
) -> None:
    """List a region's synchronization jobs; optionally write a config monitoring them."""
    try:
        config = discovering.settings(config_path, regions, name_pattern, tags)
        discovering.refuse_existing(write_config)
        setup_logging("error")
        credentials = probe_credentials(config)
    except (ConfigError, StartupError) as exc:
        fail(str(exc))
    client = make_client(config, credentials)
    try:
        listing = discovering.discover(config, client)
    finally:
        client.close()
    if listing.jobs:
        click.echo(discovering.format_table(listing))
        click.echo(discovering.summary(listing))
    for line in listing.errors:
        click.echo(f"dts-exporter: error: {line}", err=True)
    if listing.nothing:
        click.echo(f"dts-exporter: no jobs: {listing.nothing}", err=True)
    if listing.errors or not listing.jobs:
        sys.exit(1)
    if write_config:
        text = discovering.starter_config(config, listing, endpoint=config.endpoint)
        try:
            discovering.write_starter(write_config, text)
        except ConfigError as exc:
            fail(str(exc))
        click.echo(f"wrote {write_config}: {len(listing.jobs)} job(s)")


@click.command("config-schema")
def config_schema() -> None:
    """Print the config file's JSON Schema (draft 7), for editors and CI."""
    click.echo(json_schema_text(), nl=False)
