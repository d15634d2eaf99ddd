"""Wires config, credentials, client and collector into a registry ready to serve."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from dts_exporter.api_stats import ApiStats
from dts_exporter.client import ACTIONS, DtsClient
from dts_exporter.collector import Collection, DtsCollector
from dts_exporter.config import Config
from dts_exporter.credentials import CredentialsProvider
from dts_exporter.endpoints import endpoint_for_region


@dataclass
class Exporter:
    registry: CollectorRegistry
    collection: Collection
    client: DtsClient

    def close(self) -> None:
        self.collection.close()


def make_client(
    config: Config, credentials: CredentialsProvider, stats: ApiStats | None = None
) -> DtsClient:
    return DtsClient(
        endpoint=config.endpoint or endpoint_for_region(config.region),
        region=config.region,
        credentials=credentials,
        timeout_seconds=config.timeout_seconds,
        pool_size=config.concurrency,
        observer=stats.observe if stats is not None else None,
    )


def build_exporter(config: Config, credentials: CredentialsProvider) -> Exporter:
    """A fresh registry holding the DTS collector; registering makes no API call."""
    stats = ApiStats(ACTIONS)
    client = make_client(config, credentials, stats)
    collection = Collection(config, client, stats)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DtsCollector(collection, stats))
    return Exporter(registry=registry, collection=collection, client=client)
