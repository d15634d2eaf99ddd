"""The checked-in outputs the tests compare against, and how they are built: the golden
exposition (tests/fixtures/golden.prom, `test_golden.py`) and the README's generated
references (`test_readme.py`): the metric table, every config key with its default, and
every command's options.

The tests only compare. After an intended change, `.venv/bin/python -m tools.regenerate`
rewrites them all from the functions here; review the diff before committing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any, Literal, get_args, get_origin

import click
from prometheus_client import CollectorRegistry, generate_latest

from dts_exporter import cli
from dts_exporter.actions import NAMES, initialization, modify_status
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import Config, JobConfig
from dts_exporter.config.keys import Declaration, declarations
from dts_exporter.exposition import ALL_METRICS, build_families
from dts_exporter.selfmetrics import ApiStats
from tests.conftest import FIXTURES, ROOT, StaticCollector, make_snapshot

GOLDEN = FIXTURES / "golden.prom"
README_PATH = ROOT / "README.md"


def sample_exposition(init_body: dict[str, Any], modify_body: dict[str, Any]) -> bytes:
    """The exposition of the two recorded sample answers (the `init_body` and
    `modify_body` fixtures), a throttled job beside them, and a few API call counts."""
    stats = ApiStats(NAMES)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Success", 0.12)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Throttling.User", 0.03)
    stats.observe(DESCRIBE_MODIFY_STATUS, "Success", 0.08)
    snapshot = make_snapshot(
        [
            (
                JobConfig(id="dtsi76118o3w92", name="orders", modify_tasks=("k71r16fj13g",)),
                initialization.parse(init_body),
                None,
            ),
            (
                JobConfig(id="dtsthrottled01", name="billing"),
                None,
                DtsApiError("Throttling.User", "Request was denied due to user flow control."),
            ),
        ],
        [("dtsi76118o3w92", "k71r16fj13g", modify_status.parse(modify_body), None)],
    )
    registry = CollectorRegistry()
    registry.register(StaticCollector(build_families(snapshot, stats)))
    return generate_latest(registry)


def metric_table() -> str:
    """The README's metric reference, one row per declared metric."""
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for m in ALL_METRICS:
        name = m.name + ("_total" if m.type == "counter" else "")
        labels = ", ".join(m.labels) if m.labels else "—"
        lines.append(f"| `{name}` | {m.type} | {labels} | {m.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def with_metric_table(readme: str) -> str:
    """The README with its metric reference written from the declarations."""
    head, rest = readme.split("<!-- metrics:start -->\n", 1)
    tail = rest.split("<!-- metrics:end -->", 1)[1]
    return f"{head}<!-- metrics:start -->\n{metric_table()}<!-- metrics:end -->{tail}"


def _with_block(readme: str, name: str, block: str) -> str:
    """`readme` with the text between `<!-- name:start -->` and `<!-- name:end -->`
    replaced by `block`."""
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    head, rest = readme.split(start, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{start}{block}{end}{tail}"


# -- the config key reference: every key of `declarations(Config)`, with its default --------

# What a required key shows instead of a default.
CONFIG_EXAMPLES: dict[str, object] = {"region": "cn-hangzhou", "jobs[].id": "dtsi76118o3w92"}
_PLAIN = re.compile(r"^[A-Za-z0-9_./:-]+$")
_COMMENT_AT = 36  # the column comments start at, when the key's line leaves room
_LINE = 110


def _yaml_value(value: object) -> str:
    if value is None or value == "":  # unset: the parser takes null as the key left out
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_yaml_value(item) for item in value) + "]"
    text = str(value)
    return (
        text if _PLAIN.match(text) and text not in ("null", "true", "false") else json.dumps(text)
    )


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _key_comment(declared: Declaration) -> str:
    key, notes = declared.key, []
    if declared.required:
        notes.append("required")
    notes.append(key.description)
    choices = get_args(declared.kind) if get_origin(declared.kind) is Literal else ()
    if choices and not all(str(choice) in key.description for choice in choices):
        notes.append(" | ".join(str(choice) for choice in choices))
    if math.isfinite(key.minimum) and math.isfinite(key.maximum):
        notes.append(f"{_number(key.minimum)} to {_number(key.maximum)}")
    return "; ".join(notes)


def _section_of(kind: object) -> tuple[type, bool] | None:
    """The dataclass a key holds (a section), or a list of (jobs), else None."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return kind, False
    args = get_args(kind)
    item = args[0] if get_origin(kind) is tuple and args else None
    if isinstance(item, type) and dataclasses.is_dataclass(item):
        return item, True
    return None


def _reference_lines(section: type, indent: str, path: str, out: list[str]) -> None:
    for number, declared in enumerate(declarations(section)):
        lead = indent
        if path.endswith("[]"):  # the keys of a list item: the first one opens the item
            lead = indent[:-2] + "- " if number == 0 else indent
        comment = _key_comment(declared)
        nested = _section_of(declared.kind)
        if nested is not None:
            text = f"{lead}{declared.name}:"
        else:
            name = f"{path}.{declared.name}" if path else declared.name
            value = CONFIG_EXAMPLES[name] if declared.required else declared.default
            text = f"{lead}{declared.name}: {_yaml_value(value)}"
        column = max(_COMMENT_AT, len(text) + 2)
        if column + 2 + len(comment) <= _LINE:
            out.append(f"{text.ljust(column)}# {comment}")
        else:
            out.append(f"{lead.replace('-', ' ')}# {comment}")
            out.append(text)
        if nested is not None:
            child, listed = nested
            child_path = f"{path}.{declared.name}" if path else declared.name
            if listed:
                _reference_lines(child, indent + "    ", child_path + "[]", out)
            else:
                _reference_lines(child, indent + "  ", child_path, out)


def config_reference() -> str:
    """The README's reference of every config key (YAML, defaults as values, descriptions,
    choices and bounds as comments), from the declarations in `dts_exporter.config.model`."""
    lines = ["```yaml"]
    _reference_lines(Config, "", "", lines)
    lines.append("```")
    return "\n".join(lines) + "\n"


def with_config_reference(readme: str) -> str:
    return _with_block(readme, "config-keys", config_reference())


# -- every command's options, from click's own declarations -------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_row(option: click.Option) -> str:
    names = ", ".join(f"`{name}`" for name in option.opts + option.secondary_opts)
    envvar = f"`{option.envvar}`" if isinstance(option.envvar, str) else "—"
    shown = option.to_info_dict().get("default")  # None when unset (click's own sentinel)
    if option.required:
        default = "required"
    elif shown in (None, (), [], "") or callable(shown):
        default = "—"
    else:
        default = f"`{shown:g}`" if isinstance(shown, float) else f"`{shown}`"
    notes = [option.help or ""]
    if isinstance(option.type, click.Choice):
        notes.append("One of " + ", ".join(f"`{choice}`" for choice in option.type.choices) + ".")
    if option.multiple:
        notes.append("Repeatable.")
    return f"| {names} | {envvar} | {default} | {_cell(' '.join(n for n in notes if n))} |"


def options_reference() -> str:
    """One table per `dts-exporter` command: each option, its environment variable, its
    default and its help, as click declares them."""
    parts = []
    for name, command in cli.main.commands.items():
        summary = _cell(command.help or "").split("\n")[0]
        rows = [
            _option_row(param)
            for param in command.params
            if isinstance(param, click.Option) and param.name != "help"
        ]
        table = "\n".join(
            ["| option | env var | default | what it does |", "|---|---|---|---|", *rows]
        )
        parts.append(
            f"**`dts-exporter {name}`**: {summary}\n\n" + (table if rows else "No options.")
        )
    return "\n\n".join(parts) + "\n"


def with_options_reference(readme: str) -> str:
    return _with_block(readme, "options", options_reference())


def with_references(readme: str) -> str:
    """The README with every generated block rewritten: metrics, config keys, options."""
    return with_options_reference(with_config_reference(with_metric_table(readme)))
