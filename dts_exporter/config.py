"""The exporter's configuration file: typed, validated, one clear error per mistake.

Every error is a `ConfigError` whose message starts with the file name and the key path
(`config.yaml: jobs[1].id: ...`), so the CLI can print it as one line and exit 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from dts_exporter.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
_REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")

T = TypeVar("T")


@dataclass(frozen=True)
class JobConfig:
    id: str
    name: str = ""
    modify_tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    region: str
    jobs: tuple[JobConfig, ...]
    endpoint: str | None = None
    timeout_seconds: float = 10.0
    scrape_timeout_seconds: float = 25.0
    concurrency: int = 16
    log_level: str = "info"


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML (or JSON) config file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{name}: invalid YAML{where}: {problem}") from None
    return parse_config(data, source=name)


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-decoded document."""
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with 'region' and 'jobs'"
        )
    top = _Reader(source, "", data).mapping()
    allowed = {
        "region",
        "endpoint",
        "timeout_seconds",
        "scrape_timeout_seconds",
        "concurrency",
        "log_level",
        "jobs",
    }
    top.reject_unknown(allowed)
    region = top.get("region", required=True).string(pattern=_REGION_RE, hint="e.g. cn-hangzhou")
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
        concurrency=concurrency,
        log_level=log_level,
        jobs=jobs,
    )


def _endpoint(reader: _Reader) -> str:
    value = reader.string()
    candidate = value if "://" in value else f"https://{value}"
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


def _job(reader: _Reader) -> JobConfig:
    job = reader.mapping()
    job.reject_unknown({"id", "name", "modify_tasks"})
    job_id = job.get("id", required=True).string(pattern=_ID_RE, hint="a SynchronizationJobId")
    name = job.get("name").string(default="")
    tasks = tuple(
        item.string(pattern=_ID_RE, hint="a TaskId")
        for item in job.get("modify_tasks").sequence(default=[])
    )
    duplicates = sorted({task for task in tasks if tasks.count(task) > 1})
    if duplicates:
        job.get("modify_tasks").fail(f"duplicate task id {duplicates[0]!r}")
    return JobConfig(id=job_id, name=name, modify_tasks=tasks)


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
