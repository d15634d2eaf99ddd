"""dashboards/dts-exporter.json is the output of the generator in tools/dashboard/ (built
with Grafana's Foundation SDK, the `dashboards` extra), byte for byte. After changing the
generator: `.venv/bin/python -m tools.regenerate`, then `helm/sync-files.sh`."""

from __future__ import annotations

import re
from importlib import metadata

import pytest

from tests.conftest import ROOT

pytest.importorskip(
    "grafana_foundation_sdk", reason="the `dashboards` extra (Python 3.11+) is not installed"
)

from tools.dashboard import DASHBOARD_PATH, render


def test_the_sdk_is_the_pinned_version() -> None:
    """Another SDK version writes another JSON: `pip install -e '.[dashboards]'`."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"grafana-foundation-sdk==([^;"\s]+)', pyproject)
    assert pinned is not None
    assert metadata.version("grafana-foundation-sdk") == pinned.group(1)


def test_the_checked_in_dashboard_is_the_generators_output() -> None:
    """Regenerated in memory and compared; `.venv/bin/python -m tools.regenerate` rewrites it."""
    assert DASHBOARD_PATH.read_text(encoding="utf-8") == render()
