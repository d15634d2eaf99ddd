"""Wires config, credentials, client, discovery and collector into a registry to serve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from dts_exporter.api_stats import ApiStats
from dts_exporter.base.credentials import CredentialsProvider
from dts_exporter.collector import Collection, DtsCollector, Prober
from dts_exporter.config import Config
from dts_exporter.credentials import ChainSettings, build_chain
from dts_exporter.discovery import Discovery
from dts_exporter.exposition import Options
from dts_exporter.wire import transport
from dts_exporter.wire.client import ACTIONS, DtsClient
from dts_exporter.wire.retry import RetryPolicy, TokenBucket


@dataclass
class Exporter:
    registry: CollectorRegistry
    collection: Collection
    client: DtsClient
    prober: Prober

    def close(self) -> None:
        self.collection.close()


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
        signature_version="v1" if config.signature_version == "v1" else "v3",
    )
    observer = stats.refresh if stats is not None else None
    return build_chain(settings, env, home, transport.new_session(4), observer)


def make_client(
    config: Config, credentials: CredentialsProvider, stats: ApiStats | None = None
) -> DtsClient:
    rate = config.max_requests_per_second
    return DtsClient(
        region=config.region,
        endpoint=config.endpoint,
        credentials=credentials,
        timeout_seconds=config.timeout_seconds,
        signature_version="v1" if config.signature_version == "v1" else "v3",
        retry=RetryPolicy(max_retries=config.max_retries),
        rate_limiter=TokenBucket(rate) if rate > 0 else None,
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
    stats = stats or ApiStats(ACTIONS)
    client = make_client(config, credentials, stats)
    discovery = Discovery(config.discovery, client) if config.discovery.enabled else None
    collection = Collection(config, client, stats, discovery=discovery, shard=shard)
    options = Options(
        table_metrics=config.table_metrics,
        max_table_series_per_job=config.max_table_series_per_job,
    )
    registry = CollectorRegistry(auto_describe=True)
    registry.register(
        DtsCollector(collection, stats, options=options, cache_seconds=config.cache_seconds)
    )
    prober = Prober(collection, config, options=options)
    return Exporter(registry=registry, collection=collection, client=client, prober=prober)
