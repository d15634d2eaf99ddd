"""Commands that run the DTS simulator: simulate (alone), demo (with the exporter)."""

from __future__ import annotations

import logging

import click

from dts_exporter import __version__, actions, simulator
from dts_exporter.base.errors import ConfigError
from dts_exporter.base.logfmt import setup_logging
from dts_exporter.cli.common import (
    demo_offset_option,
    fail,
    listen_option,
    parse_address,
    serve_until_signal,
    start_or_fail,
)
from dts_exporter.config import LOG_LEVELS, Config, CredentialsConfig, JobConfig
from dts_exporter.lifecycle import Runtime, wait_for_signals
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.web import ExporterServer

log = logging.getLogger("dts_exporter")

DEFAULT_SIMULATOR_ADDRESS = "127.0.0.1:8080"


@click.command()
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
@click.option(
    "--flow-control-rate",
    type=click.FloatRange(min=0, min_open=True),
    envvar="DTS_SIMULATOR_FLOW_CONTROL_RATE",
    show_envvar=True,
    help="Calls per second per region and action; past it, Throttling.User "
    "(default: the scenario's flow_control, else none).",
)
@click.option(
    "--flow-control-burst",
    type=click.FloatRange(min=1),
    envvar="DTS_SIMULATOR_FLOW_CONTROL_BURST",
    show_envvar=True,
    help="Calls a full bucket lets through at once (default: one second's worth).",
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
    flow_control_rate: float | None,
    flow_control_burst: float | None,
) -> None:
    """Run a simulated DTS OpenAPI endpoint (for demos and tests)."""
    setup_logging(log_level)
    if flow_control_burst is not None and flow_control_rate is None:
        fail("--flow-control-burst needs --flow-control-rate")
    flow = (
        simulator.FlowSettings.of(flow_control_rate, flow_control_burst)
        if flow_control_rate is not None
        else None
    )
    host, port = parse_address(listen_address)
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
            flow_control=flow,
        )
    except ConfigError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {listen_address}: {exc.strerror or exc}")
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


@click.command()
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
    host, port = parse_address(listen_address)
    sim_host, sim_port = parse_address(simulator_address)
    try:
        sim = simulator.start_simulator(sim_host, sim_port, demo_offset=demo_offset)
    except OSError as exc:
        fail(f"cannot listen on {simulator_address}: {exc.strerror or exc}")
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
        serve_until_signal(
            Runtime(config, start_or_fail(config, stats), stats, None), host, port, announce
        )
    finally:
        sim.close()
