"""Rewrite the checked-in outputs that tests compare against, after an intended change:
the golden exposition (tests/fixtures/golden.prom), the README's generated references
(the metric table, every config key with its default, every command's options), the
Grafana dashboard (dashboards/dts-exporter.json, built by tools/dashboard/ with Grafana's
Foundation SDK: the `dashboards` extra), and the config file's JSON Schema
(schema/config.schema.json, and its copy in the chart's values.schema.json).

    .venv/bin/python -m tools.regenerate

The tests never write these files; they always compare. Review the diff before committing;
after the dashboard changed, also run `helm/sync-files.sh` (the chart carries a copy).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from tests.conftest import ROOT, load_fixture
from tests.golden import GOLDEN, README_PATH, sample_exposition, with_references
from tests.schemas import schema_outputs


def dashboard_outputs() -> tuple[tuple[Path, bytes], ...]:
    """The dashboard's JSON, when Grafana's Foundation SDK (the `dashboards` extra, Python
    3.11+) is installed; without it the dashboard is left as it is."""
    if find_spec("grafana_foundation_sdk") is None:
        print("dashboards/dts-exporter.json: skipped (needs the `dashboards` extra, Python 3.11+)")
        return ()
    from tools.dashboard import DASHBOARD_PATH, render  # noqa: PLC0415 (needs the SDK)

    return ((DASHBOARD_PATH, render().encode("utf-8")),)


def main() -> None:
    golden = sample_exposition(
        load_fixture("describe_initialization_status.json"),
        load_fixture("describe_modify_status.json"),
    )
    readme = with_references(README_PATH.read_text(encoding="utf-8"))
    outputs = ((GOLDEN, golden), (README_PATH, readme.encode("utf-8")), *dashboard_outputs())
    for path, new in (*outputs, *schema_outputs()):
        changed = path.read_bytes() != new
        if changed:
            path.write_bytes(new)
        print(f"{path.relative_to(ROOT)}: {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
