"""Reading a config file: every key as `model` declares it, one clear error per mistake.

Every error is a `ConfigError` whose message starts with the file name and the key path
(`config.yaml: jobs[1].id: ...`), so the CLI can print it as one line and exit 2.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

from dts_exporter.base.documents import read_document, readable_by_others, require_regular_file
from dts_exporter.base.errors import ConfigError
from dts_exporter.config.keys import Key, declarations, key_names
from dts_exporter.config.model import Config, CredentialsConfig, JobConfig

T = TypeVar("T")

# Every key the top level of the config file may hold.
TOP_LEVEL_KEYS = key_names(Config)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML (or JSON) config file."""
    require_regular_file(path)
    return parse_config(read_document(path), source=str(path))


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-decoded document."""
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with 'region' and 'jobs'"
        )
    return _section(_Reader(source, "", data), Config)


def secret_file_warnings(path: str | Path, config: Config) -> list[str]:
    """A config file holding a secret should be readable by its owner only."""
    if not (config.credentials.access_key_secret or config.credentials.security_token):
        return []
    mode = readable_by_others(path)
    if mode is not None:
        return [
            f"{path} holds an AccessKey secret but is readable by group or others "
            f"(mode {mode:o}); run chmod 600 {path}"
        ]
    return []


def _section(reader: _Reader, section: type[T]) -> T:
    """A mapping read key by key as `section` declares them, then its cross-key rules."""
    node = reader.mapping()
    node.reject_unknown(key_names(section))
    values: dict[str, object] = {}
    for declared in declarations(section):
        child = node.get(declared.name, required=declared.required)
        if not child.missing:
            values[declared.name] = _value(child, declared.kind, declared.key)
    make: Callable[..., T] = section
    return _check(node, make(**values))


def _value(node: _Reader, kind: object, key: Key) -> object:
    """One present value of the declared type."""
    if kind is bool:
        return node.boolean()
    if kind is int:
        return int(node.number(minimum=key.minimum, maximum=key.maximum, integer=True))
    if kind is float:
        return node.number(minimum=key.minimum, maximum=key.maximum)
    if get_origin(kind) is Literal:
        return node.choice(get_args(kind))
    if get_origin(kind) is tuple:
        return tuple(_value(item, get_args(kind)[0], key) for item in node.sequence())
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _section(node, kind)
    # a string (`str | None` is a string whose default is None)
    if key.form == "endpoint":
        return _endpoint(node, key.scheme)
    if key.form == "regex":
        # An empty pattern (the Helm chart's default) matches every job, as no pattern does.
        return "" if node.value == "" else node.regex()
    return node.string(pattern=key.pattern, hint=key.hint)


def _check(node: _Reader, made: T) -> T:
    """The rules that span several keys of one section; what they fill in."""
    if isinstance(made, CredentialsConfig):
        if bool(made.access_key_id) != bool(made.access_key_secret):
            node.fail("access_key_id and access_key_secret go together")
    elif isinstance(made, JobConfig):
        counts = Counter(made.modify_tasks)
        duplicates = sorted(task for task, count in counts.items() if count > 1)
        if duplicates:
            node.get("modify_tasks").fail(f"duplicate task id {duplicates[0]!r}")
    elif isinstance(made, Config):
        seen: dict[str, int] = {}
        for index, job in enumerate(made.jobs):
            if job.id in seen:
                raise ConfigError(
                    f"{node.source}: jobs[{index}].id: duplicate job id {job.id!r} "
                    f"(already at jobs[{seen[job.id]}])"
                )
            seen[job.id] = index
        if made.discovery.enabled and not made.discovery.regions:
            regions = (made.region,)  # discovery lists the configured region by default
            return replace(made, discovery=replace(made.discovery, regions=regions))
    return made


def _endpoint(reader: _Reader, scheme: str) -> str:
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

    def reject_unknown(self, allowed: frozenset[str]) -> None:
        assert isinstance(self.value, Mapping)
        for key in self.value:
            if not isinstance(key, str) or key not in allowed:
                self.child(str(key)).fail(f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def child(self, key: str) -> _Reader:
        path = f"{self.path}.{key}" if self.path else key
        assert isinstance(self.value, Mapping)
        return _Reader(self.source, path, self.value.get(key, self._MISSING))

    def get(self, key: str, *, required: bool = False) -> _Reader:
        """The key's node; a null value counts as missing."""
        node = self.child(key)
        if node.value is None and not required:
            node.value = self._MISSING
        if required and (node.missing or node.value is None):
            node.fail("missing required key")
        return node

    def string(self, *, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        if not isinstance(self.value, str):
            return self._type_error("a string")  # type: ignore[no-any-return]
        if not self.value.strip():
            self.fail("must not be empty")
        if pattern is not None and not pattern.match(self.value):
            self.fail(f"invalid value {self.value!r}" + (f" ({hint})" if hint else ""))
        return self.value

    def number(self, *, minimum: float, maximum: float, integer: bool = False) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self._type_error("an integer" if integer else "a number")  # type: ignore[no-any-return]
        if integer and isinstance(value, float) and not value.is_integer():
            self._type_error("an integer")
        if not minimum <= value <= maximum:
            self.fail(f"must be between {minimum:g} and {maximum:g}, got {value}")
        return float(value)

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            return self._type_error("true or false")  # type: ignore[no-any-return]
        return self.value

    def regex(self) -> str:
        value = self.string()
        try:
            re.compile(value)
        except re.error as exc:
            self.fail(f"invalid regular expression {value!r}: {exc}")
        return value

    def choice(self, choices: tuple[str, ...]) -> str:
        if not isinstance(self.value, str) or self.value.lower() not in choices:
            self.fail(f"expected one of {', '.join(choices)}, got {_describe(self.value)}")
        return str(self.value).lower()

    def sequence(self) -> list[_Reader]:
        if not isinstance(self.value, list):
            return self._type_error("a list")  # type: ignore[no-any-return]
        return [_Reader(self.source, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]


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
