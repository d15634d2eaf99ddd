"""Assemble the dashboard from its rows, and export it as Grafana's "Export for sharing
externally" would: `__inputs` (the Prometheus data source the import asks for) and
`__requires` (Grafana, the data source plugin, every panel plugin used).

The panels read the `$datasource` template variable, never `${DS_PROMETHEUS}`: a provisioned
dashboard (a file provider, the Helm chart's ConfigMap for Grafana's sidecar) is loaded
without `__inputs` being substituted, and a panel pointing at `${DS_PROMETHEUS}` would find no
data source. `${DS_PROMETHEUS}` appears once, as the `datasource` variable's current value,
exactly as Grafana's own exporter writes it: an import replaces it with the data source picked
in the import form; a provisioned copy keeps the literal, which matches no data source, and
Grafana falls back to the first Prometheus data source it lists, as for an empty current
value.

What the Foundation SDK cannot express, and how it is filled in:
- the dashboard's `"id": null` (the SDK leaves an unset id out; the tests and Grafana's own
  exports carry it): added to the JSON;
- a query variable's `definition` (the query as shown in the variables list; the SDK's
  VariableModel has no such field): added to the JSON, equal to the query;
- the `datasource` variable's `refresh` and `options` (the DatasourceVariable builder has no
  setters for them): set on the built dashboard's VariableModel, before it is encoded;
- a state timeline without pagination (the SDK's state-timeline Options always carry
  `perPage`, 20 by default, which turns pagination on past 20 rows; Grafana's own default is
  unset, no pagination): `perPage` removed from the JSON;
- `__inputs` and `__requires` (export-time fields, outside the SDK's Dashboard model): added
  to the JSON.

The SDK also writes some of Grafana's defaults out (a panel's `transparent: false` and
`repeatDirection: "h"`, a range query's `instant: false`, a table's `frameIndex`, a variable's
`skipUrlSync` and `allowCustomValue`, ...) and stamps its own `schemaVersion`: none of them
changes what Grafana shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from tools.dashboard.initialization import data_initialization, structure_initialization
from tools.dashboard.kit import DATASOURCE, Section
from tools.dashboard.operations import exporter_health, modify_tasks
from tools.dashboard.overview import job_overview, overview

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_PATH = ROOT / "dashboards" / "dts-exporter.json"

SECTIONS: list[Callable[[], Section]] = [
    overview,
    job_overview,
    data_initialization,
    structure_initialization,
    modify_tasks,
    exporter_health,
]
# name -> (label, query) of the query variables, each narrowing the next.
QUERY_VARIABLES = {
    "job": ("job", "label_values(dts_exporter_build_info, job)"),
    "instance": ("instance", 'label_values(dts_exporter_build_info{job=~"$job"}, instance)'),
    "job_id": (
        "DTS job",
        'label_values(dts_job_info{job=~"$job", instance=~"$instance"}, job_id)',
    ),
}
INPUT = "DS_PROMETHEUS"
PANEL_PLUGINS = {
    "bargauge": "Bar gauge",
    "stat": "Stat",
    "state-timeline": "State timeline",
    "table": "Table",
    "timeseries": "Time series",
}


def grafana_version() -> str:
    """The Grafana version whose schema the installed SDK models ("<build>!11.6.0")."""
    return metadata.version("grafana-foundation-sdk").rpartition("!")[2]


def _variables() -> list[cogbuilder.Builder[model.VariableModel]]:
    variables: list[cogbuilder.Builder[model.VariableModel]] = [
        dashboard_b.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .regex("")
        .hide(model.VariableHide.DONT_HIDE)
        .current(model.VariableOption(selected=True, text="", value="${" + INPUT + "}"))
    ]
    for name, (label, query) in QUERY_VARIABLES.items():
        variables.append(
            dashboard_b.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .regex("")
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .options([])
            .hide(model.VariableHide.DONT_HIDE)
        )
    return variables


def dashboard() -> dashboard_b.Dashboard:
    """The dashboard as the SDK builds it; rows and panels are placed in declaration order."""
    builder = (
        dashboard_b.Dashboard("Alibaba Cloud DTS")
        .uid("dts-exporter")
        .description(
            "Alibaba Cloud DTS synchronization jobs as seen by dts-exporter: job status, delay, "
            "throughput, retries and data verification, initialization progress per table, "
            "schema objects, modify tasks, prechecks and the exporter's own health."
        )
        .tags(["dts", "alibaba-cloud", "dts-exporter", "replication"])
        .version(1)
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timezone("utc")
        .refresh("30s")
        .time("now-1h", "now")
        .fiscal_year_start_month(0)
        .live_now(False)
        .week_start("")
        .links([])
        .annotation(
            dashboard_b.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
            .built_in(1)
        )
        .variables(_variables())
    )
    for make in SECTIONS:
        section = make()
        row = dashboard_b.Row(section.title).id(section.id).collapsed(section.collapsed)
        if section.collapsed:
            for panel in section.panels:
                row = row.with_panel(panel)
            builder = builder.with_row(row)
        else:
            builder = builder.with_row(row)
            for panel in section.panels:
                builder = builder.with_panel(panel)
    return builder


def _panels(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, with the panels of collapsed rows after their row."""
    for panel in document["panels"]:
        yield panel
        yield from panel.get("panels", [])


def exported(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with `__inputs` and `__requires` first, as Grafana exports them."""
    requires = [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": grafana_version()},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
    ] + [
        {"type": "panel", "id": kind, "name": PANEL_PLUGINS[kind], "version": ""}
        for kind in {panel["type"] for panel in _panels(document)} - {"row"}
    ]
    inputs = [
        {
            "name": INPUT,
            "label": "Prometheus",
            "description": "",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ]
    return {
        "__inputs": inputs,
        "__requires": sorted(requires, key=lambda r: r["id"]),
        **document,
    }


def build() -> dict[str, Any]:
    """The dashboard's JSON document, with the SDK's gaps filled in (see the module doc)."""
    built: model.Dashboard = dashboard().build()
    for variable in built.templating.list_val or []:
        if variable.type_val == model.VariableType.DATASOURCE:
            variable.refresh = model.VariableRefresh.ON_DASHBOARD_LOAD
            variable.options = []
    document: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    document = {"id": None, **document}
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            variable["definition"] = variable["query"]
    for panel in _panels(document):
        if panel["type"] == "state-timeline":
            del panel["options"]["perPage"]
    return exported(document)


def render() -> str:
    """The text of dashboards/dts-exporter.json."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
