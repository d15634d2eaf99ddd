"""The config file's JSON Schema: generated from the declarations, checked in, embedded in
the Helm chart, printed by `dts-exporter config-schema`, and in step with the parser
(`parse_config`) on every key: what one accepts the other does, but where the schema's
docstring says otherwise."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from typing import Any, Literal

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from dts_exporter.base.errors import ConfigError
from dts_exporter.cli import main
from dts_exporter.config import Config, parse_config
from dts_exporter.config.keys import declarations
from dts_exporter.config.schema import DRAFT, ecma_pattern, json_schema, json_schema_text
from tests.conftest import ROOT
from tests.schemas import (
    AGREE,
    CONFIG_SCHEMA,
    LOOSER,
    NEWLINE,
    STRICTER,
    VALUES_SCHEMA,
    config_cases,
    config_schema_bytes,
    embedded_config_schema,
    values_schema_bytes,
)

SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
CHART = ROOT / "helm" / "dts-exporter"
REGENERATE = "run .venv/bin/python -m tools.regenerate"


def _parses(config: object) -> bool:
    try:
        parse_config(config)
    except ConfigError:
        return False
    return True


def _errors(config: object) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in VALIDATOR.iter_errors(config)]


def test_the_checked_in_schema_is_the_generated_one() -> None:
    assert CONFIG_SCHEMA.read_bytes() == config_schema_bytes(), REGENERATE


def test_the_chart_embeds_the_same_schema() -> None:
    current = VALUES_SCHEMA.read_text(encoding="utf-8")
    assert current.encode("utf-8") == values_schema_bytes(current), REGENERATE
    assert json.loads(current)["properties"]["config"] == embedded_config_schema()


def test_the_command_prints_it() -> None:
    result = CliRunner().invoke(main, ["config-schema"])
    assert result.exit_code == 0, result.output
    assert result.output == json_schema_text()
    assert json.loads(result.output) == SCHEMA


def test_it_is_a_draft_7_schema() -> None:
    assert SCHEMA["$schema"] == DRAFT == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert "$ref" not in json.dumps(SCHEMA)  # Helm follows no reference


def _sections(schema: dict[str, Any], section: type, where: str) -> list[tuple[str, Any, type]]:
    """The schema of each section (jobs' items included) with its dataclass."""
    found = [(where, schema, section)]
    for declared in declarations(section):
        child = schema["properties"][declared.name]
        kind = declared.kind
        item = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            found += _sections(child, kind, f"{where}.{declared.name}")
        elif isinstance(item, type) and dataclasses.is_dataclass(item):
            found += _sections(child["items"], item, f"{where}.{declared.name}[]")
    return found


def test_every_section_and_key_is_declared_as_the_model_declares_it() -> None:
    sections = _sections(SCHEMA, Config, "config")
    assert [where for where, _, _ in sections] == [
        "config",
        "config.credentials",
        "config.discovery",
        "config.job_status",
        "config.verification",
        "config.jobs[]",
    ]
    for where, schema, section in sections:
        declared = declarations(section)
        assert schema["additionalProperties"] is False, where
        assert list(schema["properties"]) == [d.name for d in declared], where
        assert schema.get("required", []) == [d.name for d in declared if d.required], where
        for d in declared:
            prop = schema["properties"][d.name]
            assert prop["description"].startswith(d.key.description), (where, d.name)
            types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            assert ("null" in types) is not d.required, (where, d.name)  # null: left out
            if d.kind in (int, float):
                for bound in ("minimum", "maximum"):
                    assert prop[bound] == getattr(d.key, bound), (where, d.name, bound)
            if typing.get_origin(d.kind) is Literal:
                assert prop["enum"] == [*typing.get_args(d.kind), None], (where, d.name)
            if "default" in prop:  # a default the key itself accepts
                assert jsonschema.Draft7Validator(prop).is_valid(prop["default"]), d.name
            else:
                assert d.required or d.default in (None, ""), (where, d.name)
    assert SCHEMA["required"] == ["region"]
    assert SCHEMA["properties"]["jobs"]["items"]["required"] == ["id"]


def test_every_declared_pattern_is_carried_over() -> None:
    patterned = []
    for where, schema, section in _sections(SCHEMA, Config, "config"):
        for d in declarations(section):
            if d.key.pattern is None:
                continue
            prop = schema["properties"][d.name]
            prop = prop.get("items", prop)
            # every pattern declared today can be said to ECMA 262 and RE2
            assert ecma_pattern(d.key.pattern) is not None, (where, d.name)
            assert prop["pattern"] == ecma_pattern(d.key.pattern), (where, d.name)
            # ...and the pattern alone refuses a blank value, as the parser does
            assert not d.key.pattern.match("") and not d.key.pattern.match(" "), d.name
            patterned.append(f"{where}.{d.name}")
    assert len(patterned) >= 9


@pytest.mark.parametrize(
    ("python", "ecma"),
    [
        (r"^[a-z]{2,}(-[a-z0-9]+)+$", r"^[a-z]{2,}(-[a-z0-9]+)+$"),
        (r"\S.*", r"^(?:\S.*)"),  # `match` anchors at the start
        (r"a|b", r"^(?:a|b)"),
        (r"(?P<name>a)", None),
        (r"(?i)abc", None),
        (r"(?=a)a", None),
        (r"a\Z", None),
        (r"(a)\1", None),
        (r"a++", None),
        (r"\bword", None),
    ],
)
def test_python_patterns_become_ecma_ones_or_none(python: str, ecma: str | None) -> None:
    assert ecma_pattern(re.compile(python)) == ecma
    assert ecma_pattern(re.compile("abc", re.IGNORECASE)) is None


def test_the_parser_and_the_schema_agree_on_every_key() -> None:
    """Every key with values of every JSON type, its bounds and beyond them, its choices,
    sections and lists; they disagree only where the schema says it is stricter (choices
    in another case) or looser (an endpoint's port, a regex's syntax, one job id twice).
    A trailing newline passes both here, Python's `$` being the parser's; test_helm.py
    shows Helm's RE2 refusing it."""
    cases = config_cases()
    wrong = []
    for case in cases:
        schema_ok, parser_ok = VALIDATOR.is_valid(case.config), _parses(case.config)
        got = AGREE if schema_ok == parser_ok else (LOOSER if schema_ok else STRICTER)
        if got != (AGREE if case.expected == NEWLINE else case.expected):
            wrong.append(f"{case.label}: expected {case.expected}, got {got}")
    assert wrong == []
    assert len(cases) > 1000
    assert {case.expected for case in cases} == {AGREE, STRICTER, LOOSER, NEWLINE}


def _readme_configs() -> list[dict[str, Any]]:
    """Each YAML block of the README that is a whole config (it has a region)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M):
        document = yaml.safe_load(block)
        if isinstance(document, dict) and "region" in document:
            found.append(document)
    return found


def _chart_configs() -> dict[str, dict[str, Any]]:
    """The chart's default config and each ci variant's, merged over it as Helm does
    (a map key by key, anything else replaced)."""
    default = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["config"]
    configs = {"values.yaml": default}
    for path in sorted((CHART / "ci").glob("*.yaml")):
        given = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config")
        if given is not None:
            configs[path.name] = {**default, **given}
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    for number, block in enumerate(re.findall(r"<<'VALUES'\n(.*?)^VALUES", readme, re.S | re.M)):
        configs[f"chart README, values {number}"] = {**default, **yaml.safe_load(block)["config"]}
    return configs


def test_it_accepts_the_readme_configs() -> None:
    configs = _readme_configs()
    assert len(configs) >= 2
    for config in configs:
        assert _errors(config) == []
        assert _parses(config)


def test_it_accepts_the_charts_configs() -> None:
    configs = _chart_configs()
    assert {"values.yaml", "default-values.yaml", "chart README, values 0"} <= set(configs)
    for name, config in configs.items():
        assert _errors(config) == [], name
        assert _parses(config), name


BASE = {"region": "cn-hangzhou", "jobs": [{"id": "dtsi01orders8x2k"}]}


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            {**BASE, "jobs": [{"id": "dtsa", "modify_task": ["k1"]}]},
            "$.jobs[0]: Additional properties are not allowed ('modify_task' was unexpected)",
        ),
        ({**BASE, "concurency": 8}, "$: Additional properties are not allowed"),
        ({**BASE, "discovery": {"enabeld": True}}, "$.discovery: Additional properties"),
        ({**BASE, "concurrency": "8"}, "$.concurrency: '8' is not of type 'integer', 'null'"),
        ({**BASE, "concurrency": 2.5}, "$.concurrency: 2.5 is not of type 'integer', 'null'"),
        ({**BASE, "jobs": {"id": "dtsa"}}, "$.jobs: {'id': 'dtsa'} is not of type 'array'"),
        ({**BASE, "job_status": {"enabled": "yes"}}, "$.job_status.enabled: 'yes' is not of"),
        ({**BASE, "concurrency": 0}, "$.concurrency: 0 is less than the minimum of 1"),
        ({**BASE, "timeout_seconds": 301}, "$.timeout_seconds: 301 is greater than the maximum"),
        ({**BASE, "log_level": "verbose"}, "$.log_level: 'verbose' is not one of"),
        ({**BASE, "region": "Hangzhou"}, "$.region: 'Hangzhou' does not match"),
        ({"jobs": [{"id": "dtsa"}]}, "$: 'region' is a required property"),
        ({**BASE, "jobs": [{"name": "orders"}]}, "$.jobs[0]: 'id' is a required property"),
        ({**BASE, "endpoint": "https://dts.example.com/v1"}, "$.endpoint: 'https://dts.exa"),
        (
            {**BASE, "credentials": {"access_key_id": "LTAIexample"}},
            "$.credentials: 'access_key_secret' is a required property",
        ),
        (
            {**BASE, "jobs": [{"id": "dtsa", "modify_tasks": ["k1", "k1"]}]},
            "$.jobs[0].modify_tasks: ['k1', 'k1'] has non-unique elements",
        ),
    ],
)
def test_it_refuses_what_the_parser_refuses(config: dict[str, Any], error: str) -> None:
    errors = _errors(config)
    assert len(errors) == 1 and errors[0].startswith(error), errors
    assert not _parses(config)
