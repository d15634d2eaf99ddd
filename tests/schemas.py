"""The checked-in JSON Schemas the tests compare against, and how they are built: the
config file's schema (schema/config.schema.json, from `dts_exporter.config.schema`) and
its copy embedded in the Helm chart's values.schema.json under `config` (Helm follows no
external `$ref`, so the chart carries the whole schema).

The tests only compare (`test_config_schema.py`). After an intended change to the config
declarations, `.venv/bin/python -m tools.regenerate` rewrites both; review the diff.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dts_exporter.config import Config
from dts_exporter.config.keys import Declaration, Key, declarations
from dts_exporter.config.schema import json_schema, json_schema_text
from tests.conftest import ROOT

CONFIG_SCHEMA = ROOT / "schema" / "config.schema.json"
VALUES_SCHEMA = ROOT / "helm" / "dts-exporter" / "values.schema.json"


def config_schema_bytes() -> bytes:
    """schema/config.schema.json as `dts-exporter config-schema` prints it."""
    return json_schema_text().encode("utf-8")


def embedded_config_schema() -> dict[str, Any]:
    """The config schema as values.schema.json holds it: a subschema, so without `$schema`."""
    schema = {key: value for key, value in json_schema().items() if key != "$schema"}
    schema["description"] = (
        "The exporter's config file, rendered into the ConfigMap as given. The schema of "
        "schema/config.schema.json (generated from dts_exporter/config/model.py), embedded "
        "by `python -m tools.regenerate`."
    )
    return schema


def values_schema_bytes(current: str) -> bytes:
    """The chart's values.schema.json (`current`) with the config schema embedded."""
    values = json.loads(current)
    values["properties"]["config"] = embedded_config_schema()
    return (json.dumps(values, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def schema_outputs() -> list[tuple[Path, bytes]]:
    """Each checked-in schema file and what it should hold, for `tools.regenerate`."""
    current = VALUES_SCHEMA.read_text(encoding="utf-8")
    return [(CONFIG_SCHEMA, config_schema_bytes()), (VALUES_SCHEMA, values_schema_bytes(current))]


# -- configs on which the parser and the schema are compared ---------------------------------

# A config both accept, into which each case puts one value.
BASE_CONFIG: dict[str, Any] = {"region": "cn-hangzhou", "jobs": [{"id": "dtsi01orders8x2k"}]}

# Where they are known to disagree (see `dts_exporter.config.schema`): "stricter" when only
# the parser accepts the value, "looser" when only the schema does.
AGREE, STRICTER, LOOSER = "agree", "schema stricter", "schema looser"
# A patterned value ending in a newline: Python's `$` lets it through, in the parser and in
# the `jsonschema` package alike; ECMA 262 and RE2 (Helm's validator, an editor's) do not.
NEWLINE = "schema stricter in ECMA 262 and RE2"

_STRINGS = (
    "", " ", "x", "cn-hangzhou", "dtsi01orders8x2k", "env=prod", "acs:ram::1234567890123456:role/r",
    "dts-exporter", "https://dts.example.com", "HTTP://127.0.0.1:8080/", "dts.example.com:8080",
    "https://dts.example.com/path", "https://dts.example.com?x=1", "ftp://dts.example.com",
    "info", "v1", "all", "^orders-",
)  # fmt: skip
_OTHERS: tuple[object, ...] = (None, True, False, 0, 1, -1, 16.0, 2.5, 10**8, [], {}, ["x"])


@dataclass(frozen=True)
class Case:
    label: str
    config: dict[str, Any]
    expected: str  # AGREE, STRICTER, LOOSER or NEWLINE


def _put(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    config = copy.deepcopy(BASE_CONFIG)
    node: Any = config
    for step in path[:-1]:
        node = node[step] if isinstance(step, int) else node.setdefault(step, {})
    node[path[-1]] = value
    return config


def _declared(
    section: type = Config, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Declaration]]:
    """Every key path (jobs as `jobs`, 0, key) with its declaration."""
    for declared in declarations(section):
        path = (*prefix, declared.name)
        yield path, declared
        kind = declared.kind
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            yield from _declared(kind, path)
        args = typing.get_args(kind)
        item = args[0] if typing.get_origin(kind) is tuple else None
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            yield from _declared(item, (*path, 0))


def _scalar_candidates(kind: object, key: Key) -> list[tuple[object, str]]:
    """Values for one scalar (or one list item) of the declared kind, with the expected
    agreement; the generic values everywhere, the edges that matter for this kind."""
    found: list[tuple[object, str]] = [(v, AGREE) for v in (*_STRINGS, *_OTHERS)]
    if kind in (int, float):
        step = 1 if kind is int else 0.01
        for bound, outside in ((key.minimum, -step), (key.maximum, step)):
            if math.isfinite(bound):
                found += [(bound, AGREE), (bound + outside, AGREE)]
    if typing.get_origin(kind) is Literal:
        choices = [str(choice) for choice in typing.get_args(kind)]
        found += [(choice, AGREE) for choice in choices]
        found += [(choice.upper(), STRICTER) for choice in choices]
    if key.pattern is not None:
        found += [(f"{value}\n", NEWLINE) for value in _STRINGS if key.pattern.match(value)]
    if key.form == "endpoint":
        found += [("dts.example.com:99999", LOOSER), ("dts.example.com:port", LOOSER)]
    if key.form == "regex":
        found += [("(unclosed", LOOSER)]
    return found


def config_cases() -> list[Case]:
    """One case per key and candidate value, a few per section and list: every key the
    declarations hold, with values of every JSON type, its bounds and what lies beyond,
    and the known disagreements."""
    cases = [Case("base", copy.deepcopy(BASE_CONFIG), AGREE)]
    for path, declared in _declared():
        where = ".".join(str(step) for step in path)
        kind = declared.kind
        values: list[tuple[object, str]]
        if typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            if dataclasses.is_dataclass(item):  # jobs: the items' keys get their own cases
                lists: tuple[object, ...] = ([], None, "dtsi01", [{}], [{"name": "x"}])
                values = [(v, AGREE) for v in lists]
                values.append(([{"id": "dtsa"}, {"id": "dtsa"}], LOOSER))  # one id twice
            else:
                values = [(v, AGREE) for v in _OTHERS if not isinstance(v, list)]
                values += [
                    ([v], expected) for v, expected in _scalar_candidates(item, declared.key)
                ]
                values += [(["dtsa", "dtsa"], AGREE), (["cn-hangzhou", "cn-shanghai"], AGREE)]
        elif dataclasses.is_dataclass(kind):
            sections: tuple[object, ...] = ({}, None, "x", [], {"bogus": 1})
            values = [(v, AGREE) for v in sections]
        else:
            values = _scalar_candidates(kind, declared.key)
        cases += [Case(f"{where}={v!r}", _put(path, v), expected) for v, expected in values]
    cases += [Case(f"without {key}", _without(key), AGREE) for key in ("region", "jobs")]
    cases += [Case("unknown key", _put(("regoin",), "cn-hangzhou"), AGREE)]
    cases += [Case("typo in a job", _put(("jobs", 0, "modify_task"), ["k1"]), AGREE)]
    pair = {"access_key_id": "LTAIexample", "access_key_secret": "s"}
    cases += [Case("credentials pair", _put(("credentials",), pair), AGREE)]
    cases += [
        Case(f"credentials pair, {key} null", _put(("credentials",), {**pair, key: None}), AGREE)
        for key in pair
    ]
    return cases


def _without(key: str) -> dict[str, Any]:
    config = copy.deepcopy(BASE_CONFIG)
    del config[key]
    return config
