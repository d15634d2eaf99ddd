"""The config file as a JSON Schema (draft 7), generated from the declarations in `model`.

For editors (`# yaml-language-server: $schema=...`), for the Helm chart (its
values.schema.json embeds it under `config`) and for checking a config before it is
deployed. `dts-exporter config-schema` prints it; `schema/config.schema.json` is the
checked-in copy. Draft 7 because Helm validates values.schema.json by it (Helm 3's
validator knows no later draft) and Helm's validators read `pattern` as Go's RE2.

The parser (`parse`) stays the authority. The schema says what the parser checks key by
key, `additionalProperties: false` everywhere, the required keys, the pairing of
`credentials.access_key_id` and `access_key_secret`, and unique `modify_tasks`; null
stands for a key left out, as in the parser (a section whose keys are all commented out
reads null). Where JSON Schema cannot say the same, it says less or, in corners, more:

- less: an endpoint is checked for its shape (optional http(s)://, no path, query or
  fragment) but not for a valid port; a `regex` key is not compiled (Python's regular
  expressions are not ECMA 262's); two jobs with one id pass (JSON Schema cannot compare
  one key across the items of a list); a pattern that ECMA 262 or RE2 would read
  otherwise (`ecma_pattern` returns None; none does today) leaves only "not blank".
- more: a choice must be spelled in lower case (the parser lowers `INFO`); an endpoint
  may hold no whitespace; to ECMA 262 and RE2 validators (Helm's, an editor's, not
  Python's `jsonschema`) a patterned value may not end in a newline (Python's `$` lets
  one through), and `\\d`, `\\s` and `\\S` are ASCII where Python's are Unicode.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from typing import Any, Literal

from dts_exporter.config.keys import Declaration, Key, declarations
from dts_exporter.config.model import Config, CredentialsConfig, JobConfig

DRAFT = "http://json-schema.org/draft-07/schema#"

# What `parse._endpoint` accepts, as far as a pattern can say: an optional http(s)://
# (any case), a host with an optional port (not checked), at most a trailing slash.
ENDPOINT_PATTERN = r"^(?:[Hh][Tt][Tt][Pp][Ss]?://)?[^/?#\s]+/?$"
# Every string key refuses a blank value; only a regex takes an empty one.
NOT_BLANK = r"\S"
EMPTY_OR_NOT_BLANK = r"^$|\S"

# Python syntax that ECMA 262 or RE2 lack or read otherwise: a group other than (?:...)
# (named groups, inline flags, lookarounds, atomic groups, conditionals), \A \Z \b \B \g
# \N, back-references, possessive quantifiers.
_NOT_PORTABLE = re.compile(r"\(\?(?!:)|\\[AZbBgN0-9]|[*+?}]\+")

# Keys of `parse._check`'s cross-key rules that JSON Schema can say.
_TOGETHER: dict[type, tuple[str, str]] = {CredentialsConfig: ("access_key_id", "access_key_secret")}
_UNIQUE_ITEMS: frozenset[tuple[type, str]] = frozenset({(JobConfig, "modify_tasks")})


def json_schema() -> dict[str, Any]:
    """The config file's JSON Schema: every section and key `model` declares."""
    return {
        "$schema": DRAFT,
        "title": "dts-exporter configuration",
        "description": (
            "The file `dts-exporter serve --config` reads. Generated from "
            "dts_exporter/config/model.py: `dts-exporter config-schema`."
        ),
        **_section(Config),
    }


def json_schema_text() -> str:
    """The schema as `dts-exporter config-schema` prints it and schema/ holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def ecma_pattern(pattern: re.Pattern[str]) -> str | None:
    """A pattern Python applies with `match` as a JSON Schema pattern (ECMA 262, read as
    RE2 by Helm), anchored at the start as `match` is; None when it uses syntax or flags
    either reads otherwise."""
    if pattern.flags & ~re.UNICODE or _NOT_PORTABLE.search(pattern.pattern):
        return None
    source = pattern.pattern
    return source if source.startswith("^") else f"^(?:{source})"


def _section(section: type) -> dict[str, Any]:
    declared = declarations(section)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    required = [d.name for d in declared if d.required]
    if required:
        schema["required"] = required
    schema["properties"] = {d.name: _property(section, d) for d in declared}
    if section in _TOGETHER:
        first, second = _TOGETHER[section]
        schema["allOf"] = [_requires(first, second), _requires(second, first)]
    return schema


def _property(section: type, declared: Declaration) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": _description(declared.key)}
    schema.update(_value(declared.kind, declared.key))
    if (section, declared.name) in _UNIQUE_ITEMS:
        schema["uniqueItems"] = True
    if not declared.required:
        # A null value counts as a missing key (`_Reader.get`), e.g. a section whose keys
        # are all commented out.
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        if _shows_default(declared):
            schema["default"] = _json_default(declared.default)
    return schema


def _value(kind: object, key: Key) -> dict[str, Any]:
    """The schema of one present value of the declared type (as `parse._value` reads it)."""
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer", **_bounds(key)}
    if kind is float:
        return {"type": "number", **_bounds(key)}
    origin = typing.get_origin(kind)
    if origin is Literal:
        return {"type": "string", "enum": list(typing.get_args(kind))}
    if origin is tuple:
        return {"type": "array", "items": _value(typing.get_args(kind)[0], key)}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _section(kind)
    if kind is str or (
        origin in (typing.Union, types.UnionType)
        and set(typing.get_args(kind)) == {str, None.__class__}
    ):
        return _string(key)
    raise TypeError(f"no JSON Schema for the declared type {kind!r}")


def _string(key: Key) -> dict[str, Any]:
    if key.form == "regex":
        # Empty (every name matches) or not blank; Python's syntax is not checked.
        return {"type": "string", "pattern": EMPTY_OR_NOT_BLANK}
    if key.form == "endpoint":
        return {"type": "string", "pattern": ENDPOINT_PATTERN}
    pattern = ecma_pattern(key.pattern) if key.pattern is not None else None
    if pattern is not None:
        return {"type": "string", "pattern": pattern}
    return {"type": "string", "minLength": 1, "pattern": NOT_BLANK}


def _bounds(key: Key) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if key.minimum > -float("inf"):
        bounds["minimum"] = _number(key.minimum)
    if key.maximum < float("inf"):
        bounds["maximum"] = _number(key.maximum)
    return bounds


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _description(key: Key) -> str:
    text = key.description
    hint = key.hint.removeprefix("a ")
    if hint and hint not in text:
        text += f"; {key.hint}"
    if key.form == "endpoint":
        text += f" (http(s)://host[:port]; {key.scheme}:// when the scheme is left out)"
    elif key.form == "regex":
        text += " (a Python regular expression)"
    return text


def _shows_default(declared: Declaration) -> bool:
    """A default worth showing: not None (the description says what applies) and not an
    empty string the key itself refuses (it stands for "not set")."""
    if declared.default is None:
        return False
    return not (declared.default == "" and declared.key.form != "regex")


def _json_default(value: object) -> Any:
    if isinstance(value, tuple):
        return [_json_default(item) for item in value]
    if dataclasses.is_dataclass(value):
        return {}  # a missing section: every key at its default
    if isinstance(value, float):
        return _number(value)
    return value


def _requires(present: str, needed: str) -> dict[str, Any]:
    """`needed` must be set (a string, not null) when `present` is."""
    return {
        "if": {"properties": {present: {"type": "string"}}, "required": [present]},
        "then": {"properties": {needed: {"type": "string"}}, "required": [needed]},
    }
