"""The config file's sections and keys, each declared once (see `keys`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal, get_args

from dts_exporter.base.api import ID_RE, REGION_RE
from dts_exporter.config.keys import Key
from dts_exporter.wire.rpc import SignatureVersion

LogLevel = Literal["debug", "info", "warning", "error"]
TableMetrics = Literal["all", "unfinished", "none"]
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)
SIGNATURE_VERSIONS: tuple[SignatureVersion, ...] = get_args(SignatureVersion)
TABLE_METRICS: tuple[TableMetrics, ...] = get_args(TableMetrics)

_TAG_RE = re.compile(r"^[^=\s][^=]{0,127}=.{0,128}$")
_TAG_KEY_RE = re.compile(r"^\S.{0,127}$")
_ARN_RE = re.compile(r"^acs:ram::\d+:role/[A-Za-z0-9_.@/-]+$")
_SESSION_RE = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
_REGION = "e.g. cn-hangzhou"


@dataclass(frozen=True)
class JobConfig:
    id: Annotated[str, Key("SynchronizationJobId", pattern=ID_RE, hint="a SynchronizationJobId")]
    name: Annotated[str, Key("shown in dts_job_info")] = ""
    modify_tasks: Annotated[
        tuple[str, ...],
        Key("TaskIds returned by ModifySynchronizationObject", pattern=ID_RE, hint="a TaskId"),
    ] = ()
    region: Annotated[
        str | None,
        Key(
            "this job's own region (and endpoint); default: the top-level region",
            pattern=REGION_RE,
            hint=_REGION,
        ),
    ] = None


@dataclass(frozen=True)
class CredentialsConfig:
    """Optional credential settings; without them the default chain decides."""

    access_key_id: Annotated[str, Key("a static key pair's id (prefer the environment)")] = ""
    access_key_secret: Annotated[str, Key("a static key pair's secret")] = field(
        default="", repr=False
    )
    security_token: Annotated[str, Key("an STS token to go with the key pair")] = field(
        default="", repr=False
    )
    ram_role_arn: Annotated[
        str,
        Key(
            "assume this RAM role with what the chain supplies (cross-account)",
            pattern=_ARN_RE,
            hint="acs:ram::<account>:role/<name>",
        ),
    ] = ""
    role_session_name: Annotated[
        str,
        Key(
            "the assumed role's session name",
            pattern=_SESSION_RE,
            hint="2-64 of A-Z a-z 0-9 . @ - _",
        ),
    ] = ""
    external_id: Annotated[str, Key("the ExternalId the role's trust policy requires")] = ""
    duration_seconds: Annotated[
        int, Key("lifetime of the assumed role's credentials", minimum=900, maximum=43200)
    ] = 3600


@dataclass(frozen=True)
class DiscoveryConfig:
    enabled: Annotated[bool, Key("list the regions' synchronization jobs and monitor them")] = False
    regions: Annotated[
        tuple[str, ...],
        Key(
            "regions to list jobs in; default: the top-level region",
            pattern=REGION_RE,
            hint=_REGION,
        ),
    ] = ()
    name_pattern: Annotated[
        str, Key("regular expression on the job name; empty = all", form="regex")
    ] = ""
    tags: Annotated[
        tuple[str, ...],
        Key(
            "only jobs carrying every one of these KEY=VALUE tags (the request's Tags filter)",
            pattern=_TAG_RE,
            hint="KEY=VALUE",
        ),
    ] = ()
    refresh_seconds: Annotated[
        float, Key("how often the job lists are refreshed", minimum=10, maximum=86400)
    ] = 300.0


@dataclass(frozen=True)
class JobStatusConfig:
    enabled: Annotated[
        bool, Key("read every job's status, delay, throughput and retries (DescribeDtsJobs)")
    ] = True
    refresh_seconds: Annotated[
        float, Key("how often; 0: on every scrape", minimum=0, maximum=86400)
    ] = 0.0


@dataclass(frozen=True)
class VerificationConfig:
    enabled: Annotated[
        bool, Key("read every job's data verification results (DescribeCheckJobs)")
    ] = True
    refresh_seconds: Annotated[
        float, Key("how often; 0: on every scrape", minimum=0, maximum=86400)
    ] = 300.0


@dataclass(frozen=True)
class Config:
    region: Annotated[str, Key("RegionId; picks the endpoint", pattern=REGION_RE, hint=_REGION)]
    endpoint: Annotated[
        str | None, Key("overrides the endpoint derived from region", form="endpoint")
    ] = None
    timeout_seconds: Annotated[float, Key("per API call", minimum=0.1, maximum=300)] = 10.0
    scrape_timeout_seconds: Annotated[
        float,
        Key("the whole collection; ids not done by then read dts_up 0", minimum=0.5, maximum=3600),
    ] = 25.0
    scrape_timeout_offset_seconds: Annotated[
        float, Key("kept free of Prometheus's announced scrape timeout", minimum=0, maximum=60)
    ] = 0.5
    concurrency: Annotated[int, Key("API calls in flight at once", minimum=1, maximum=256)] = 16
    log_level: Annotated[LogLevel, Key("the least severe log level written")] = "info"
    signature_version: Annotated[
        SignatureVersion, Key("v3 (ACS3-HMAC-SHA256, the SDK's default) or v1 (HMAC-SHA1)")
    ] = "v3"
    max_requests_per_second: Annotated[
        float,
        Key(
            "hard ceiling over all calls; 0: none, adaptive only",
            minimum=0,
            maximum=10000,
        ),
    ] = 0.0
    max_retries: Annotated[
        int, Key("retries of throttled, 5xx and transport failures", minimum=0, maximum=10)
    ] = 3
    sts_endpoint: Annotated[
        str | None, Key("default: from ALIBABA_CLOUD_STS_REGION", form="endpoint")
    ] = None
    ecs_metadata_endpoint: Annotated[
        str | None, Key("the ECS metadata service", form="endpoint", scheme="http")
    ] = None
    credentials: Annotated[
        CredentialsConfig, Key("optional: without it the default chain decides")
    ] = CredentialsConfig()
    discovery: Annotated[DiscoveryConfig, Key("find jobs by listing regions")] = DiscoveryConfig()
    job_status: Annotated[JobStatusConfig, Key("job-level state of every monitored job")] = (
        JobStatusConfig()
    )
    verification: Annotated[
        VerificationConfig, Key("data verification results of every monitored job")
    ] = VerificationConfig()
    tags_on_info: Annotated[
        tuple[str, ...],
        Key("tag keys that become tag_<key> labels of dts_job_info", pattern=_TAG_KEY_RE),
    ] = ()
    cache_seconds: Annotated[
        float, Key("serve a collection this recent to the next scraper", minimum=0, maximum=3600)
    ] = 0.0
    collection_interval_seconds: Annotated[
        float,
        Key(
            "collect in the background this often (each collection's deadline), scrapes "
            "serve the latest at once; 0: collect on every scrape",
            minimum=0,
            maximum=86400,
        ),
    ] = 0.0
    settled_refresh_seconds: Annotated[
        float, Key("how often a finished id is re-checked", minimum=0, maximum=86400)
    ] = 600.0
    table_metrics: Annotated[TableMetrics, Key("which tables get per-table series")] = "all"
    max_table_series_per_job: Annotated[
        int,
        Key(
            "cap on per-table series, keeping the largest row gaps; 0: no cap",
            minimum=0,
            maximum=10_000_000,
        ),
    ] = 0
    stale_seconds: Annotated[
        float, Key("how long a failing id keeps its last good values", minimum=0, maximum=86400)
    ] = 0.0
    probe_max_task_ids: Annotated[
        int,
        Key(
            "task_id values one /probe may name (after de-duplication); more: HTTP 400",
            minimum=1,
            maximum=200,
        ),
    ] = 50
    jobs: Annotated[tuple[JobConfig, ...], Key("the synchronization jobs to monitor")] = ()
