"""Start-up: from a config file (or a ready config) to the exporter the server serves.

One sequence for `serve`, `demo` and every reload (SIGHUP, `POST /-/reload`): read the
config, check it names something to monitor, set the log level, warn about a config file
others can read, set up the credential chain and probe it once, and wire config,
credentials, client, discovery and collection into an `Exporter`. Whatever stops it is a
`StartupError` with a one-line message: `serve` and `demo` print it and exit 2, a reload
logs it, answers it and keeps the old config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from dts_exporter import actions
from dts_exporter.base import errors
from dts_exporter.base.credentials import CredentialsError, CredentialsProvider
from dts_exporter.base.errors import ConfigError, DtsExporterError
from dts_exporter.base.families import Options
from dts_exporter.base.logfmt import quote, setup_logging, value
from dts_exporter.collection.background import Background
from dts_exporter.collection.discovery import Discovery
from dts_exporter.collection.fanout import Collection
from dts_exporter.collection.statelog import LineLimit, StateLog
from dts_exporter.collection.targets import Targets
from dts_exporter.config import Config, LogLevel, load_config, secret_file_warnings
from dts_exporter.credentials import ChainSettings, build_chain
from dts_exporter.scrape import DtsCollector, Families, Prober, process_collectors
from dts_exporter.selfmetrics import ApiStats
from dts_exporter.wire import transport
from dts_exporter.wire.client import DtsClient
from dts_exporter.wire.flow import Flow, FlowControl
from dts_exporter.wire.retry import RetryPolicy

log = logging.getLogger("dts_exporter")


class StartupError(DtsExporterError):
    """The exporter cannot start with this config; the message is one line."""


@dataclass(frozen=True)
class Started:
    config: Config
    credentials: CredentialsProvider
    exporter: Exporter


def start(
    source: str | Config,
    stats: ApiStats,
    *,
    shard: tuple[int, int] | None = None,
    log_level: LogLevel | None = None,
) -> Started:
    """The whole sequence. `source` is a config file's path, or a ready config (the demo's).

    `shard` = (index, count) makes this replica collect only its share of the jobs;
    `log_level` (the command line's) replaces the config's `log_level`, in the config
    returned too, so a reload that passes it again keeps it.
    """
    if isinstance(source, Config):
        config, warnings = _monitorable(source, "config"), []
    else:
        config = load(source)
        warnings = secret_file_warnings(source, config)
    if log_level is not None:
        config = replace(config, log_level=log_level)
    setup_logging(config.log_level)
    for warning in warnings:
        log.warning("insecure config file message=%s", quote(warning))
    credentials = probe_credentials(config, stats)
    return Started(config, credentials, build_exporter(config, credentials, stats, shard=shard))


def load(path: str) -> Config:
    """The config file, valid and naming something to monitor."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise StartupError(str(exc)) from exc
    return _monitorable(config, path)


def probe_credentials(config: Config, stats: ApiStats | None = None) -> CredentialsProvider:
    """The credential chain, probed once: nothing configured at all is a start-up error; a
    configured source that fails now (STS down, say) is retried on every scrape."""
    try:
        provider, sources = make_credentials(config, os.environ, Path.home(), stats)
    except CredentialsError as exc:
        raise StartupError(exc.message) from exc
    if not sources:
        raise StartupError(
            "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, "
            "or use RRSA, a CLI profile, credentials.ini, an ECS RAM role or "
            "ALIBABA_CLOUD_CREDENTIALS_URI (see the README)"
        )
    try:
        provider.get()
    except CredentialsError as exc:
        if sources == ["ecs_ram_role"] and exc.code in (errors.CONNECTION_ERROR, errors.TIMEOUT):
            raise StartupError(
                "no credentials: nothing is configured and no ECS metadata service answered "
                f"({exc.code}); set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET or see the README"
            ) from exc
        log.warning(
            "credentials not available yet; ids read dts_up 0 until they are "
            "provider=%s code=%s message=%s",
            provider.name,
            value(exc.code),
            quote(exc.message),
        )
    return provider


def _monitorable(config: Config, where: str) -> Config:
    if not config.jobs and not config.discovery.enabled:
        raise StartupError(
            f"{where}: jobs: no jobs configured; list at least one SynchronizationJobId "
            "or enable discovery"
        )
    return config


@dataclass
class Exporter:
    """What the server serves. `registry` holds the DTS collector and prometheus-client's
    process collectors: reading it is one scrape with no announced timeout."""

    registry: CollectorRegistry
    collection: Collection
    collector: DtsCollector
    prober: Prober
    process: tuple[Collector, ...]
    probe_collection: Collection | None = None  # the prober's own, when it has one
    background: Background | None = None  # with collection_interval_seconds

    def metrics(self, timeout: float | None) -> Collector:
        """`/metrics`: every monitored id, collected within `timeout`."""
        return Families(self.collector.families(timeout), self.process)

    def probe(
        self, job_id: str, task_ids: Sequence[str], region: str | None, timeout: float | None
    ) -> Collector:
        """`/probe`: one job and its modify tasks."""
        return Families(self.prober.families(job_id, task_ids, region, timeout))

    def close(self) -> None:
        self.stop_background()
        self.collection.close()
        if self.probe_collection is not None:
            self.probe_collection.close()
        if self.background is not None:
            self.background.stop(wait=1.0)  # ends as soon as its calls do

    def stop_background(self) -> None:
        """Begin no further background collection."""
        if self.background is not None:
            self.background.stop()

    def succeed(self, old: Exporter) -> None:
        """At a reload, before this exporter is served: `old` begins no further background
        collection, and until this one's first completes, scrapes are served old's latest
        (not nothing)."""
        old.stop_background()
        if self.background is not None and old.background is not None:
            self.background.seed(old.background.current())


def make_credentials(
    config: Config, env: Mapping[str, str], home: Path, stats: ApiStats | None = None
) -> tuple[CredentialsProvider, list[str]]:
    """The credential chain for this config: the provider and the sources it will try.

    Raises CredentialsError for a broken CLI profile or credentials.ini.
    """
    c = config.credentials
    settings = ChainSettings(
        access_key_id=c.access_key_id,
        access_key_secret=c.access_key_secret,
        security_token=c.security_token,
        ram_role_arn=c.ram_role_arn,
        role_session_name=c.role_session_name,
        external_id=c.external_id,
        duration_seconds=c.duration_seconds,
        sts_endpoint=config.sts_endpoint,
        ecs_metadata_endpoint=config.ecs_metadata_endpoint,
        signature_version=config.signature_version,
    )
    observer = stats.refresh if stats is not None else None
    return build_chain(settings, env, home, transport.new_session(4), observer)


def make_client(
    config: Config,
    credentials: CredentialsProvider,
    stats: ApiStats | None = None,
    *,
    share: float = 1.0,
) -> DtsClient:
    """The client for this config. Its flow control is the process's (held by `stats`),
    so the rates learnt from throttled answers survive a reload; without `stats`, its own.
    With `share` < 1, its calls may use at most that share of a throttled key's rate."""
    rate = config.max_requests_per_second
    control = stats.flow_control(rate) if stats is not None else FlowControl(rate)
    flow: Flow = control if share >= 1 else control.share(share)
    return DtsClient(
        region=config.region,
        endpoint=config.endpoint,
        credentials=credentials,
        timeout_seconds=config.timeout_seconds,
        signature_version=config.signature_version,
        retry=RetryPolicy(max_retries=config.max_retries),
        flow=flow,
        pool_size=config.concurrency,
        observer=stats.observe if stats is not None else None,
        retry_observer=stats.retry if stats is not None else None,
    )


def build_exporter(
    config: Config,
    credentials: CredentialsProvider,
    stats: ApiStats | None = None,
    *,
    shard: tuple[int, int] | None = None,
) -> Exporter:
    """A fresh registry holding the DTS collector; registering makes no API call.

    `shard` = (index, count) makes this replica collect only its share of the jobs.
    """
    stats = stats or ApiStats(actions.NAMES)
    client = make_client(config, credentials, stats)
    discovery = (
        Discovery(config.discovery, client, stats=stats) if config.discovery.enabled else None
    )
    targets = Targets(config.jobs, discovery, shard)
    interval = config.collection_interval_seconds
    # In the background a collection's deadline is the interval, not a scrape's timeout.
    collecting = replace(config, scrape_timeout_seconds=interval) if interval > 0 else config
    collection = Collection(collecting, client, stats, targets)
    options = Options(
        table_metrics=config.table_metrics,
        max_table_series_per_job=config.max_table_series_per_job,
        info_tags=config.tags_on_info,
    )
    background = Background(collection, interval) if interval > 0 else None
    collector = DtsCollector(
        collection,
        stats,
        options=options,
        cache_seconds=config.cache_seconds,
        scrape_timeout_seconds=config.scrape_timeout_seconds,
        background=background,
    )
    probe_collection = _probe_collection(config, credentials, stats)
    prober = Prober(
        probe_collection,
        config.jobs,
        options=options,
        cache_seconds=config.cache_seconds,
        max_task_ids=config.probe_max_task_ids,
        slots=max(2, _probe_concurrency(config)),
        scrape_timeout_seconds=config.scrape_timeout_seconds,
    )
    process = process_collectors()
    registry = CollectorRegistry(auto_describe=True)
    for each in (collector, *process):
        registry.register(each)
    if background is not None:
        background.start()  # collects from now on, scraped or not
    return Exporter(registry, collection, collector, prober, process, probe_collection, background)


# Failure and note lines of probed ids written at most per minute; the rest are counted.
PROBE_LOG_LINES_PER_MINUTE = 30
# The share of a throttled action's learnt rate (and of the ceiling) probes may use.
PROBE_SHARE = 0.25


def _probe_collection(
    config: Config, credentials: CredentialsProvider, stats: ApiStats
) -> Collection:
    """`/probe`'s own collection: a quarter of `concurrency` in its own worker and connection
    pool, its own history, and a log of at most PROBE_LOG_LINES_PER_MINUTE lines a minute,
    so that probes of ids from outside never take the configured ids' workers. Its client
    shares the process's flow control (the account's rate is one, learnt once) and may use
    at most PROBE_SHARE of a throttled action's rate."""
    probe_config = replace(config, concurrency=_probe_concurrency(config))
    client = make_client(probe_config, credentials, stats, share=PROBE_SHARE)
    collection = Collection(probe_config, client, stats, Targets(()))
    collection.log = StateLog(
        LineLimit(PROBE_LOG_LINES_PER_MINUTE, "probe", lambda: stats.suppressed("probe"))
    )
    return collection


def _probe_concurrency(config: Config) -> int:
    return max(1, config.concurrency // 4)
