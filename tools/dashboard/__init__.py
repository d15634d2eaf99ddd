"""The Grafana dashboard as code, built with Grafana's Foundation SDK
(grafana-foundation-sdk, the `dashboards` extra): `dashboards/dts-exporter.json` is its
output, byte for byte (tests/test_dashboard_code.py compares). Change the dashboard here,
then rewrite the JSON and the Helm chart's copy:

    .venv/bin/python -m tools.regenerate
    helm/sync-files.sh

`kit` holds the query helpers and field options, `panels` one factory per panel type (the
house style); `overview`, `initialization` and `operations` declare the rows and their
panels; `build` assembles the dashboard, exports it with `__inputs`/`__requires`, and lists
what the SDK cannot express.
"""

from __future__ import annotations

from tools.dashboard.build import DASHBOARD_PATH, build, render

__all__ = ["DASHBOARD_PATH", "build", "render"]
