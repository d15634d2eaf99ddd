"""The exporter's configuration file: typed, validated, one clear error per mistake.

Every error is a `ConfigError` whose message starts with the file name and the key path
(`config.yaml: jobs[1].id: ...`), so the CLI can print it as one line and exit 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dts_exporter.base.documents import read_document
from dts_exporter.base.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
TABLE_METRICS = ("all", "unfinished", "none")
# Every key the top level of the config file may hold.
TOP_LEVEL_KEYS = frozenset(
    {
        "region",
        "endpoint",
        "timeout_seconds",
        "scrape_timeout_seconds",
        "scrape_timeout_offset_seconds",
        "concurrency",
        "log_level",
        "signature_version",
        "max_requests_per_second",
        "max_retries",
        "sts_endpoint",
        "ecs_metadata_endpoint",
        "credentials",
        "discovery",
        "cache_seconds",
        "settled_refresh_seconds",
        "table_metrics",
        "max_table_series_per_job",
        "stale_seconds",
        "jobs",
    }
)
REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
ID_RE = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")
_ARN_RE = re.compile(r"^acs:ram::\d+:role/[A-Za-z0-9_.@/-]+$")
_SESSION_RE = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")

T = TypeVar("T")


@dataclass(frozen=True)
class JobConfig:
    id: str
    name: str = ""
    modify_tasks: tuple[str, ...] = ()
    region: str | None = None  # None: the top-level region


@dataclass(frozen=True)
class CredentialsConfig:
    """Optional credential settings; without them the default chain decides."""

    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    ram_role_arn: str = ""
    role_session_name: str = ""
    external_id: str = ""
    duration_seconds: int = 3600


@dataclass(frozen=True)
class DiscoveryConfig:
    enabled: bool = False
    regions: tuple[str, ...] = ()
    name_pattern: str = ""
    refresh_seconds: float = 300.0


@dataclass(frozen=True)
class Config:
    region: str
    jobs: tuple[JobConfig, ...]
    endpoint: str | None = None
    timeout_seconds: float = 10.0
    scrape_timeout_seconds: float = 25.0
    scrape_timeout_offset_seconds: float = 0.5
    concurrency: int = 16
    log_level: str = "info"
    signature_version: str = "v3"
    max_requests_per_second: float = 40.0
    max_retries: int = 3
    sts_endpoint: str | None = None
    ecs_metadata_endpoint: str | None = None
    credentials: CredentialsConfig = CredentialsConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    cache_seconds: float = 0.0
    settled_refresh_seconds: float = 600.0
    table_metrics: str = "all"
    max_table_series_per_job: int = 0
    stale_seconds: float = 0.0


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML (or JSON) config file."""
    name = str(path)
    data = read_document(path)
    return parse_config(data, source=name)


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-decoded document."""
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with 'region' and 'jobs'"
        )
    top = _Reader(source, "", data).mapping()
    top.reject_unknown(set(TOP_LEVEL_KEYS))
    region = top.get("region", required=True).string(pattern=REGION_RE, hint="e.g. cn-hangzhou")
    endpoint_reader = top.get("endpoint")
    endpoint = None if endpoint_reader.missing else _endpoint(endpoint_reader)
    timeout = top.get("timeout_seconds").number(default=10.0, minimum=0.1, maximum=300)
    scrape_timeout = top.get("scrape_timeout_seconds").number(
        default=25.0, minimum=0.5, maximum=3600
    )
    concurrency = int(
        top.get("concurrency").number(default=16, minimum=1, maximum=256, integer=True)
    )
    log_level = top.get("log_level").choice(LOG_LEVELS, default="info")
    offset = top.get("scrape_timeout_offset_seconds").number(default=0.5, minimum=0, maximum=60)
    signature_version = top.get("signature_version").choice(("v1", "v3"), default="v3")
    rate = top.get("max_requests_per_second").number(default=40.0, minimum=0, maximum=10000)
    retries = int(top.get("max_retries").number(default=3, minimum=0, maximum=10, integer=True))
    sts = top.get("sts_endpoint")
    metadata = top.get("ecs_metadata_endpoint")
    credentials = _credentials(top.get("credentials"))
    discovery = _discovery(top.get("discovery"))
    cache = top.get("cache_seconds").number(default=0.0, minimum=0, maximum=3600)
    settled = top.get("settled_refresh_seconds").number(default=600.0, minimum=0, maximum=86400)
    table_metrics = top.get("table_metrics").choice(TABLE_METRICS, default="all")
    cap = int(
        top.get("max_table_series_per_job").number(
            default=0, minimum=0, maximum=10_000_000, integer=True
        )
    )
    stale = top.get("stale_seconds").number(default=0.0, minimum=0, maximum=86400)
    jobs = tuple(_job(item) for item in top.get("jobs").sequence(default=[]))
    seen: dict[str, int] = {}
    for index, job in enumerate(jobs):
        if job.id in seen:
            raise ConfigError(
                f"{source}: jobs[{index}].id: duplicate job id {job.id!r} "
                f"(already at jobs[{seen[job.id]}])"
            )
        seen[job.id] = index
    return Config(
        region=region,
        endpoint=endpoint,
        timeout_seconds=timeout,
        scrape_timeout_seconds=scrape_timeout,
        scrape_timeout_offset_seconds=offset,
        concurrency=concurrency,
        log_level=log_level,
        signature_version=signature_version,
        max_requests_per_second=rate,
        max_retries=retries,
        sts_endpoint=None if sts.missing else _endpoint(sts),
        ecs_metadata_endpoint=None if metadata.missing else _endpoint(metadata, scheme="http"),
        credentials=credentials,
        discovery=discovery,
        cache_seconds=cache,
        settled_refresh_seconds=settled,
        table_metrics=table_metrics,
        max_table_series_per_job=cap,
        stale_seconds=stale,
        jobs=jobs,
    )


def secret_file_warnings(path: str | Path, config: Config) -> list[str]:
    """A config file holding a secret should be readable by its owner only."""
    if not (config.credentials.access_key_secret or config.credentials.security_token):
        return []
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return []
    if mode & 0o077:
        return [
            f"{path} holds an AccessKey secret but is readable by group or others "
            f"(mode {mode & 0o777:o}); run chmod 600 {path}"
        ]
    return []


def _endpoint(reader: _Reader, scheme: str = "https") -> str:
    value = reader.string()
    candidate = value if "://" in value else f"{scheme}://{value}"
    parts = urlsplit(candidate)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        reader.fail(f"invalid port in endpoint {value!r}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.fail(f"expected http(s)://host[:port] or host[:port], got {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        reader.fail(f"the endpoint takes no path or query, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _credentials(reader: _Reader) -> CredentialsConfig:
    if reader.missing:
        return CredentialsConfig()
    section = reader.mapping()
    section.reject_unknown(
        {
            "access_key_id",
            "access_key_secret",
            "security_token",
            "ram_role_arn",
            "role_session_name",
            "external_id",
            "duration_seconds",
        }
    )
    key_id = section.get("access_key_id").string(default="")
    secret = section.get("access_key_secret").string(default="")
    if bool(key_id) != bool(secret):
        section.fail("access_key_id and access_key_secret go together")
    return CredentialsConfig(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=section.get("security_token").string(default=""),
        ram_role_arn=section.get("ram_role_arn").string(
            default="", pattern=_ARN_RE, hint="acs:ram::<account>:role/<name>"
        ),
        role_session_name=section.get("role_session_name").string(
            default="", pattern=_SESSION_RE, hint="2-64 of A-Z a-z 0-9 . @ - _"
        ),
        external_id=section.get("external_id").string(default=""),
        duration_seconds=int(
            section.get("duration_seconds").number(
                default=3600, minimum=900, maximum=43200, integer=True
            )
        ),
    )


def _discovery(reader: _Reader) -> DiscoveryConfig:
    if reader.missing:
        return DiscoveryConfig()
    section = reader.mapping()
    section.reject_unknown({"enabled", "regions", "name_pattern", "refresh_seconds"})
    enabled = section.get("enabled").boolean(default=False)
    regions = tuple(
        item.string(pattern=REGION_RE, hint="e.g. cn-hangzhou")
        for item in section.get("regions").sequence(default=[])
    )
    pattern_reader = section.get("name_pattern")
    # An empty pattern (the Helm chart's default) matches every job, as no pattern does.
    empty = pattern_reader.value == ""
    pattern = "" if pattern_reader.missing or empty else pattern_reader.regex()
    refresh = section.get("refresh_seconds").number(default=300.0, minimum=10, maximum=86400)
    return DiscoveryConfig(
        enabled=enabled, regions=regions, name_pattern=pattern, refresh_seconds=refresh
    )


def _job(reader: _Reader) -> JobConfig:
    job = reader.mapping()
    job.reject_unknown({"id", "name", "modify_tasks", "region"})
    job_id = job.get("id", required=True).string(pattern=ID_RE, hint="a SynchronizationJobId")
    name = job.get("name").string(default="")
    region_reader = job.get("region")
    region = (
        None
        if region_reader.missing
        else region_reader.string(pattern=REGION_RE, hint="e.g. cn-hangzhou")
    )
    tasks = tuple(
        item.string(pattern=ID_RE, hint="a TaskId")
        for item in job.get("modify_tasks").sequence(default=[])
    )
    duplicates = sorted({task for task in tasks if tasks.count(task) > 1})
    if duplicates:
        job.get("modify_tasks").fail(f"duplicate task id {duplicates[0]!r}")
    return JobConfig(id=job_id, name=name, modify_tasks=tasks, region=region)


class _Reader:
    """A cursor over one node of the document that knows its key path."""

    _MISSING = object()

    def __init__(self, source: str, path: str, value: object) -> None:
        self.source = source
        self.path = path
        self.value = value

    @property
    def missing(self) -> bool:
        return self.value is self._MISSING

    def fail(self, problem: str) -> Any:
        where = f"{self.source}: {self.path}" if self.path else self.source
        raise ConfigError(f"{where}: {problem}")

    def _type_error(self, expected: str) -> Any:
        return self.fail(f"expected {expected}, got {_describe(self.value)}")

    def mapping(self) -> _Reader:
        if not isinstance(self.value, Mapping):
            self._type_error("a mapping")
        return self

    def reject_unknown(self, allowed: set[str]) -> None:
        assert isinstance(self.value, Mapping)
        for key in self.value:
            if not isinstance(key, str) or key not in allowed:
                self.child(str(key)).fail(f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def child(self, key: str) -> _Reader:
        path = f"{self.path}.{key}" if self.path else key
        assert isinstance(self.value, Mapping)
        return _Reader(self.source, path, self.value.get(key, self._MISSING))

    def get(self, key: str, *, required: bool = False) -> _Reader:
        node = self.child(key)
        if node.value is None and not required:
            node.value = self._MISSING
        if required and (node.missing or node.value is None):
            node.fail("missing required key")
        return node

    def _or_default(self, default: T | object, convert: Callable[[], T]) -> T:
        if self.missing:
            if default is self._MISSING:
                self.fail("missing required key")
            return default  # type: ignore[return-value]
        return convert()

    def string(
        self, *, default: object = _MISSING, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str:
        def convert() -> str:
            if not isinstance(self.value, str):
                return self._type_error("a string")  # type: ignore[no-any-return]
            if not self.value.strip():
                self.fail("must not be empty")
            if pattern is not None and not pattern.match(self.value):
                self.fail(f"invalid value {self.value!r}" + (f" ({hint})" if hint else ""))
            return self.value

        return self._or_default(default, convert)

    def number(
        self,
        *,
        default: object = _MISSING,
        minimum: float,
        maximum: float,
        integer: bool = False,
    ) -> float:
        def convert() -> float:
            value = self.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return self._type_error("an integer" if integer else "a number")  # type: ignore[no-any-return]
            if integer and not float(value).is_integer():
                self._type_error("an integer")
            if not minimum <= value <= maximum:
                self.fail(f"must be between {minimum:g} and {maximum:g}, got {value}")
            return float(value)

        return self._or_default(default, convert)

    def boolean(self, *, default: object = _MISSING) -> bool:
        def convert() -> bool:
            if not isinstance(self.value, bool):
                return self._type_error("true or false")  # type: ignore[no-any-return]
            return self.value

        return self._or_default(default, convert)

    def regex(self) -> str:
        value = self.string()
        try:
            re.compile(value)
        except re.error as exc:
            self.fail(f"invalid regular expression {value!r}: {exc}")
        return value

    def choice(self, choices: tuple[str, ...], *, default: object = _MISSING) -> str:
        def convert() -> str:
            if not isinstance(self.value, str) or self.value.lower() not in choices:
                self.fail(f"expected one of {', '.join(choices)}, got {_describe(self.value)}")
            return str(self.value).lower()

        return self._or_default(default, convert)

    def sequence(self, *, default: object = _MISSING) -> list[_Reader]:
        def convert() -> list[_Reader]:
            if not isinstance(self.value, list):
                return self._type_error("a list")  # type: ignore[no-any-return]
            return [_Reader(self.source, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]

        if self.missing and isinstance(default, list):
            return []
        return self._or_default(default, convert)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
