"""Command line: serve, check, discover, simulate, demo.

Every expected failure (bad config, no credentials, port in use) is one line on stderr
and exit status 2, without a traceback.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from collections.abc import Callable
from typing import NoReturn

import click

from dts_exporter import __version__, actions, simulator
from dts_exporter import discover as discovering
from dts_exporter.base.errors import ConfigError
from dts_exporter.base.logfmt import setup_logging
from dts_exporter.check import format_table, run_checks
from dts_exporter.config import LOG_LEVELS, Config, CredentialsConfig, JobConfig, LogLevel
from dts_exporter.config.schema import json_schema_text
from dts_exporter.lifecycle import Runtime, shut_down, wait_for_signals
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.startup import Started, StartupError, load, make_client, probe_credentials, start
from dts_exporter.web import DEFAULT_LISTEN_ADDRESS, ExporterServer, parse_listen_address
from dts_exporter.webconfig import WebConfig, load_web_config

log = logging.getLogger("dts_exporter")

EXIT_USAGE = 2
DEFAULT_SIMULATOR_ADDRESS = "127.0.0.1:8080"


def _fail(message: str) -> NoReturn:
    click.echo(f"dts-exporter: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _start(
    source: str | Config,
    stats: ApiStats,
    shard: tuple[int, int] | None = None,
    log_level: LogLevel | None = None,
) -> Started:
    try:
        return start(source, stats, shard=shard, log_level=log_level)
    except StartupError as exc:
        _fail(str(exc))


def _address(value: str) -> tuple[str, int]:
    try:
        return parse_listen_address(value)
    except ConfigError as exc:
        _fail(str(exc))


def _serve_until_signal(
    runtime: Runtime,
    host: str,
    port: int,
    announce: Callable[[ExporterServer], None],
    web_config: WebConfig | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; SIGHUP and POST /-/reload reload a config file."""
    try:
        server = ExporterServer(
            runtime.exporter,
            host,
            port,
            timeout_offset=runtime.config.scrape_timeout_offset_seconds,
            web_config=web_config,
            reloader=runtime.reloader,
        )
    except ConfigError as exc:
        runtime.exporter.close()
        _fail(str(exc))
    runtime.server = server
    server.start()
    announce(server)
    try:
        wait_for_signals(runtime.reloader)
    finally:
        shut_down(server, runtime.config.scrape_timeout_seconds + 5.0)
        runtime.exporter.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dts-exporter")
def main() -> None:
    """Prometheus exporter for Alibaba Cloud DTS synchronization jobs."""


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


def _shard(index: str | None, count: int | None) -> tuple[int, int] | None:
    """--shard-index/--shard-count; index `hostname` takes the trailing number of the host
    name, i.e. a StatefulSet pod's ordinal."""
    if index is None and count is None:
        return None
    if index is None or count is None:
        _fail("--shard-index and --shard-count go together")
    if index == "hostname":
        host = os.environ.get("HOSTNAME") or socket.gethostname()
        match = re.search(r"(\d+)$", host)
        if match is None:
            _fail(f"--shard-index hostname: host name {host!r} does not end in a number")
        index = match.group(1)
    if not index.isdigit() or not 0 <= int(index) < count:
        _fail(
            f"--shard-index must be a number from 0 to {count - 1} (or 'hostname'), got {index!r}"
        )
    return int(index), count


@main.command()
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
    log_level: LogLevel | None,
) -> None:
    """Serve metrics for the configured DTS jobs."""
    shard = _shard(shard_index, shard_count)
    web_config = None
    if web_config_path:
        try:
            web_config = load_web_config(web_config_path)
        except ConfigError as exc:
            _fail(str(exc))
    host, port = _address(listen_address)
    stats = ApiStats(actions.NAMES)
    started = _start(config_path, stats, shard, log_level)
    config = started.config

    def announce(server: ExporterServer) -> None:
        log.info(
            "listening address=%s version=%s jobs=%d tasks=%d discovery=%s credentials=%s "
            "shard=%s tls=%s basic_auth=%s",
            server.url(server.host),
            __version__,
            len(config.jobs),
            sum(len(job.modify_tasks) for job in config.jobs),
            ",".join(config.discovery.regions) if config.discovery.enabled else "off",
            started.credentials.name,
            f"{shard[0]}/{shard[1]}" if shard else "none",
            "on" if web_config is not None and web_config.tls is not None else "off",
            "on" if web_config is not None and web_config.users else "off",
        )

    runtime = Runtime(config_path, started, stats, shard, log_level)
    _serve_until_signal(runtime, host, port, announce, web_config)


@main.command()
@config_option
def check(config_path: str) -> None:
    """Call each action once per configured id and print the results."""
    try:
        config = load(config_path)
        setup_logging("error")
        credentials = probe_credentials(config)
    except StartupError as exc:
        _fail(str(exc))
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


@main.command()
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
        _fail(str(exc))
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
            _fail(str(exc))
        click.echo(f"wrote {write_config}: {len(listing.jobs)} job(s)")


demo_offset_option = click.option(
    "--demo-offset",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    envvar="DTS_EXPORTER_DEMO_OFFSET",
    show_envvar=True,
    help="Start the built-in demo as if it had been running this many seconds.",
)


@main.command()
@click.option(
    "--listen-address",
    "listen_address",
    default=DEFAULT_SIMULATOR_ADDRESS,
    show_default=True,
    envvar="DTS_SIMULATOR_LISTEN_ADDRESS",
    show_envvar=True,
    help="HOST:PORT for the simulated DTS endpoint.",
)
@click.option(
    "--scenario",
    "scenario_path",
    envvar="DTS_SIMULATOR_SCENARIO",
    show_envvar=True,
    help="JSON/YAML scenario file (default: built-in demo).",
)
@click.option(
    "--access-key-id",
    envvar="DTS_SIMULATOR_ACCESS_KEY_ID",
    show_envvar=True,
    help="AccessKeyId the simulator accepts (default: the demo key).",
)
@click.option(
    "--access-key-secret",
    envvar="DTS_SIMULATOR_ACCESS_KEY_SECRET",
    show_envvar=True,
    help="AccessKey secret the simulator accepts (default: the demo secret).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    envvar="DTS_SIMULATOR_LOG_LEVEL",
    show_envvar=True,
    help="The simulator's log level.",
)
@demo_offset_option
@click.option(
    "--role-arn",
    "role_arns",
    multiple=True,
    envvar="DTS_SIMULATOR_ROLE_ARN",
    show_envvar=True,
    help="A RAM role STS lets callers assume (repeat for more; the first also serves OIDC).",
)
@click.option(
    "--oidc-provider-arn",
    envvar="DTS_SIMULATOR_OIDC_PROVIDER_ARN",
    show_envvar=True,
    help="The OIDC provider AssumeRoleWithOIDC accepts.",
)
@click.option(
    "--oidc-token-file",
    envvar="DTS_SIMULATOR_OIDC_TOKEN_FILE",
    show_envvar=True,
    help="AssumeRoleWithOIDC accepts this file's current content as the token (re-read each call).",
)
@click.option(
    "--ecs-role",
    envvar="DTS_SIMULATOR_ECS_ROLE",
    show_envvar=True,
    help="RAM role name the ECS metadata stand-in serves.",
)
@click.option(
    "--sts-duration-seconds",
    type=click.FloatRange(min=1),
    envvar="DTS_SIMULATOR_STS_DURATION_SECONDS",
    show_envvar=True,
    help="Lifetime of every temporary credential handed out (tests of expiry and refresh).",
)
def simulate(
    listen_address: str,
    scenario_path: str | None,
    access_key_id: str | None,
    access_key_secret: str | None,
    log_level: str,
    demo_offset: float,
    role_arns: tuple[str, ...],
    oidc_provider_arn: str | None,
    oidc_token_file: str | None,
    ecs_role: str | None,
    sts_duration_seconds: float | None,
) -> None:
    """Run a simulated DTS OpenAPI endpoint (for demos and tests)."""
    setup_logging(log_level)
    host, port = _address(listen_address)
    try:
        scenario = simulator.load_scenario(scenario_path) if scenario_path else None
        server = simulator.start_simulator(
            host,
            port,
            access_key_id=access_key_id or simulator.DEMO_ACCESS_KEY_ID,
            access_key_secret=access_key_secret or simulator.DEMO_ACCESS_KEY_SECRET,
            scenario=scenario,
            demo_offset=demo_offset,
            role_arn=role_arns[0] if role_arns else None,
            extra_role_arns=role_arns[1:],
            oidc_provider_arn=oidc_provider_arn,
            oidc_token_file=oidc_token_file,
            ecs_role_name=ecs_role,
            sts_duration_seconds=sts_duration_seconds,
        )
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen on {listen_address}: {exc.strerror or exc}")
    log.info(
        "simulator listening address=%s scenario=%s",
        server.url,
        scenario_path or "built-in demo",
    )
    try:
        wait_for_signals()
    finally:
        server.close()


def demo_banner(simulator_url: str, server: ExporterServer) -> str:
    """What `demo` prints: the address really bound, and a local URL to try."""
    bound, local = server.url(server.host), server.url()
    shown = f"{bound}/ (all interfaces; try {local}/)" if server.all_interfaces else f"{bound}/"
    return (
        f"dts-exporter {__version__} demo\n"
        f"  simulated DTS API: {simulator_url}  (built-in scenario, demo key pair)\n"
        f"  exporter:          {shown}\n"
        f"  metrics:           {local}/metrics\n"
        f"  health:            {local}/healthz\n"
        f"  try: curl -s {local}/metrics | grep '^dts_'\n"
        "Press Ctrl+C to stop."
    )


@main.command()
@listen_option
@click.option(
    "--simulator-address",
    default="127.0.0.1:0",
    show_default=True,
    envvar="DTS_EXPORTER_SIMULATOR_ADDRESS",
    show_envvar=True,
    help="HOST:PORT for the built-in simulator (port 0 picks a free one).",
)
@demo_offset_option
def demo(listen_address: str, simulator_address: str, demo_offset: float) -> None:
    """Run the exporter against a built-in DTS simulator: no Alibaba account needed."""
    setup_logging("info")
    host, port = _address(listen_address)
    sim_host, sim_port = _address(simulator_address)
    try:
        sim = simulator.start_simulator(sim_host, sim_port, demo_offset=demo_offset)
    except OSError as exc:
        _fail(f"cannot listen on {simulator_address}: {exc.strerror or exc}")
    config = Config(
        region="cn-hangzhou",
        endpoint=sim.url,
        jobs=tuple(
            JobConfig(id=job.job_id, name=job.name, modify_tasks=job.task_ids)
            for job in simulator.DEMO_JOBS
        ),
        timeout_seconds=5.0,
        scrape_timeout_seconds=10.0,
        credentials=CredentialsConfig(
            access_key_id=simulator.DEMO_ACCESS_KEY_ID,
            access_key_secret=simulator.DEMO_ACCESS_KEY_SECRET,
        ),
    )

    def announce(server: ExporterServer) -> None:
        click.echo(demo_banner(sim.url, server))

    try:
        stats = ApiStats(actions.NAMES)
        _serve_until_signal(
            Runtime(config, _start(config, stats), stats, None), host, port, announce
        )
    finally:
        sim.close()


@main.command("config-schema")
def config_schema() -> None:
    """Print the config file's JSON Schema (draft 7), for editors and CI."""
    click.echo(json_schema_text(), nl=False)
