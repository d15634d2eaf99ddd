"""The dashboard's vocabulary: query helpers, field options (thresholds, value mappings,
overrides, table transformations), and the shapes the row modules declare (a section, a
panel's head, a query). The panel factories are in `panels`.

Every selector honours `$job`, `$instance` and (for per-job series) `$job_id`
(tests/test_dashboard.py lints the queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Statuses shared by several panels, with their colours.
MODIFY_TASK_STATUSES = [
    ("NotStarted", "text"),
    ("Prechecking", "blue"),
    ("PrecheckFailed", "red"),
    ("Migrating", "yellow"),
    ("Failed", "red"),
    ("Finished", "green"),
]
TABLE_STATUS_COLORS = {
    "NotStarted": "text",
    "Migrating": "yellow",
    "Failed": "red",
    "Finished": "green",
}

# -- queries ----------------------------------------------------------------------------------

JOB_MATCHERS = 'job=~"$job", instance=~"$instance", job_id=~"$job_id"'
EXPORTER_MATCHERS = 'job=~"$job", instance=~"$instance"'


def sel(metric: str, *matchers: str) -> str:
    """`metric{matchers..., job=~"$job", instance=~"$instance", job_id=~"$job_id"}`."""
    return f"{metric}{{{', '.join((*matchers, JOB_MATCHERS))}}}"


def exporter_sel(metric: str) -> str:
    """A selector of the exporter's own series, which carry no job_id."""
    return f"{metric}{{{EXPORTER_MATCHERS}}}"


def named(expr: str) -> str:
    """`expr` with each job's name from dts_job_info joined on (for `{{name}}` legends)."""
    return f"{expr} * on (job, instance, job_id) group_left (name) {sel('dts_job_info')}"


def status_codes(metric: str, statuses: Sequence[str], by: str) -> str:
    """One series per `by` whose value is the 1-based position of its status in `statuses`
    (0 matches none of them): what a state timeline maps back to the status names."""
    parts = []
    for code, status in enumerate(statuses, 1):
        matcher = 'status="' + status + '"'
        parts.append(f"{sel(metric, matcher)} * {code}")
    return f"sum by ({by}) ({' or '.join(parts)})"


@dataclass(frozen=True)
class Q:
    """One Prometheus query of a panel; refIds are given in order (A, B, ...)."""

    expr: str
    legend: str | None = None


# -- field options ----------------------------------------------------------------------------

Step = tuple[float, str]


def thresholds(base: str, *steps: Step) -> dashboard_b.ThresholdsConfig:
    """Absolute thresholds: `base` from -inf, then each (value, colour)."""
    return (
        dashboard_b.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base)]
            + [model.Threshold(value=value, color=color) for value, color in steps]
        )
    )


def value_map(entries: Iterable[tuple[str, str, str]]) -> model.ValueMap:
    """A value mapping from (value, text, colour) entries, indexed in order."""
    return model.ValueMap(
        options={
            value: model.ValueMappingResult(text=text, color=color, index=index)
            for index, (value, text, color) in enumerate(entries)
        }
    )


def status_map(statuses: Iterable[tuple[str, str]]) -> model.ValueMap:
    """A value mapping of status names onto themselves, coloured."""
    return value_map((status, status, color) for status, color in statuses)


def fixed(color: str) -> model.FieldColor:
    return model.FieldColor(mode=model.FieldColorModeId.FIXED, fixed_color=color)


def color_by_name(colors: Mapping[str, str]) -> list[tuple[str, list[model.DynamicConfigValue]]]:
    """Overrides giving each named series a fixed colour."""
    return [
        (name, [model.DynamicConfigValue(id_val="color", value=fixed(color))])
        for name, color in colors.items()
    ]


def colored_text() -> model.DynamicConfigValue:
    """A table column whose text takes its threshold or mapping colour."""
    return model.DynamicConfigValue(
        id_val="custom.cellOptions", value=common.TableColorTextCellOptions()
    )


def colored_background() -> model.DynamicConfigValue:
    """A table column whose cells take its threshold or mapping colour."""
    return model.DynamicConfigValue(
        id_val="custom.cellOptions", value=common.TableColoredBackgroundCellOptions()
    )


def threshold_property(base: str, *steps: Step) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="thresholds", value=thresholds(base, *steps).build())


def mappings_property(mapping: model.ValueMap) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="mappings", value=[mapping])


def organize(
    order: Sequence[str],
    rename: Mapping[str, str] | None = None,
    *,
    hide_value: bool = False,
) -> model.DataTransformerConfig:
    """Drop the labels a table does not need, order its columns and rename some."""
    hidden = ["Time", "__name__", "job", "instance"] + (["Value"] if hide_value else [])
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(hidden, True),
            "indexByName": {name: index for index, name in enumerate(order)},
            "renameByName": dict(rename or {}),
        },
    )


# -- declarations -----------------------------------------------------------------------------

PanelBuilder: TypeAlias = cogbuilder.Builder[model.Panel]


@dataclass(frozen=True)
class Section:
    """A dashboard row and its panels, placed left to right and wrapped at 24 columns."""

    id: int
    title: str
    panels: Sequence[PanelBuilder]
    collapsed: bool = False


Overrides = Sequence[tuple[str, list[model.DynamicConfigValue]]]
Size = tuple[int, int]  # (width, height) in grid units; the dashboard places panels in order


@dataclass(frozen=True)
class Head:
    """What every panel has: id (kept stable for links), title, description, size."""

    id: int
    title: str
    description: str
    size: Size
