"""The checks scenario sections share: JSON-only values, lists of mappings, key paths.

Every problem is a ConfigError naming the file (`source`) and the key path.
"""

from __future__ import annotations

import math

from dts_exporter.base.errors import ConfigError


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json_value(value: object, path: str, source: str) -> None:
    """Bodies must hold JSON types only (YAML can produce dates, sets, binary...)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{source}: {path}: keys must be strings, got {key!r}")
            if not _encodable(key):
                raise ConfigError(f"{source}: {path}: a key holds a lone surrogate (not UTF-8)")
            check_json_value(child, join_path(path, key), source)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{path}[{index}]", source)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {path}: {value} is not a valid JSON number")
    elif isinstance(value, str) and not _encodable(value):
        # A JSON escape such as "\ud800" decodes to a lone surrogate, which no answer can
        # carry: refuse it here rather than drop the connection on every request.
        raise ConfigError(f"{source}: {path}: the string holds a lone surrogate (not UTF-8)")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise ConfigError(
            f"{source}: {path}: unsupported value of type {type(value).__name__} "
            "(quote it to keep it as a string)"
        )


def check_list_of_mappings(value: object, path: str, source: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {path}: expected a list, got {type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ConfigError(
                f"{source}: {path}[{index}]: expected a mapping, got {type_name(item)}"
            )


def check_mapping_fields(
    body: dict[str, object], names: tuple[str, ...], path: str, source: str
) -> None:
    """Each of `names` present in `body` must be a mapping."""
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(
                f"{source}: {join_path(path, name)}: expected a mapping, got {type_name(value)}"
            )
