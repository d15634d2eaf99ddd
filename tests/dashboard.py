"""Read the Grafana dashboard and expand its queries as Grafana would.

Used by the dashboard's lint tests, and importable by anything that runs the dashboard's
queries against a real Prometheus (an end-to-end test, a check of the demo's data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_PATH = ROOT / "dashboards" / "dts-exporter.json"

# Grafana's built-in interval variables, when the caller does not set them.
BUILTIN_DEFAULTS: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}

# `$name`, `${name}` and `${name:format}`; names are word characters, as in Grafana.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def load_dashboard(path: Path = DASHBOARD_PATH) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, with the panels of collapsed rows after their row."""
    for panel in dashboard.get("panels", []):
        yield panel
        if panel.get("type") == "row":
            yield from panel.get("panels", [])


def content_panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel that is not a row."""
    return [p for p in iter_panels(dashboard) if p.get("type") != "row"]


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replace template variables; an unknown one raises KeyError (a typo in the JSON)."""
    values = {**BUILTIN_DEFAULTS, **variables}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for dashboard variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def panel_queries(
    dashboard: Mapping[str, Any], variables: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(panel title, expanded expr) for every target of every non-row panel."""
    return [
        (str(panel.get("title", "")), substitute(str(target["expr"]), variables))
        for panel in content_panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]
