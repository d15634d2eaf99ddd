"""The shipped rules: valid, fully unit-tested with promtool, documented in the runbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

RULES = ROOT / "alerts" / "dts-exporter.rules.yaml"
RULE_TESTS = ROOT / "tests" / "rules" / "dts-exporter.rules.test.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_BASE = "https://github.com/dts-exporter/dts-exporter/blob/main/docs/runbook.md#"
CHART = ROOT / "helm" / "dts-exporter"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed: the test command installs Debian's prometheus")
        pytest.skip("promtool not installed")
    return path


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.mark.slow  # runs promtool
def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    assert f"SUCCESS: {sum(len(group['rules']) for group in groups)} rules found" in result.stdout


@pytest.mark.slow  # runs promtool
def test_promtool_test_rules() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.slow  # runs promtool
def test_unit_tests_catch_a_missing_for(tmp_path: Path) -> None:
    """With every `for:` removed, the "silent before `for`" checks must fail."""
    weakened = re.sub(r"\n(\s+)for: \S+", r"\n\1for: 0s", RULES.read_text(encoding="utf-8"))
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "dts-exporter.rules.yaml").write_text(weakened, encoding="utf-8")
    (tmp_path / "tests" / "rules").mkdir(parents=True)
    copy = tmp_path / "tests" / "rules" / RULE_TESTS.name
    copy.write_text(RULE_TESTS.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "test", "rules", str(copy)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    failing = set(re.findall(r"alertname: (\w+), time:", result.stdout + result.stderr))
    assert failing == {rule["alert"] for rule in alerts()}


def test_every_alert_has_unit_tests_before_and_after_its_for() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    cases: dict[str, list[bool]] = {}
    for group in tests:
        for case in group.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    for rule in alerts():
        assert sorted(set(cases.get(rule["alert"], []))) == [False, True], rule["alert"]


def test_every_alert_is_documented_and_labelled() -> None:
    headings = {
        line[3:].strip().lower()
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    for rule in alerts():
        name = rule["alert"]
        assert re.fullmatch(r"Dts[A-Z][A-Za-z]+", name)
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule.get("for"), name
        notes = rule["annotations"]
        assert "{{" not in notes["summary"], f"{name}: summary must be static"
        assert "{{" in notes["description"], f"{name}: description must be templated"
        assert notes["runbook_url"] == RUNBOOK_BASE + name.lower()
        assert name.lower() in headings, f"{name} has no section in docs/runbook.md"


def test_readme_alert_table_matches_the_rules() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(Dts\w+)` \| (\w+) \| (\w+) \|", readme, flags=re.MULTILINE)
    assert rows == [(r["alert"], r["labels"]["severity"], r["for"]) for r in alerts()]


def test_exporter_alerts_select_the_job_the_chart_scrapes() -> None:
    """The chart's ServiceMonitor takes the job name from the Service's
    app.kubernetes.io/name label, the chart name unless nameOverride is set: the exporter's
    own alerts must select that job to work with the chart's defaults."""
    chart_name = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["name"]
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    monitor = (CHART / "templates" / "servicemonitor.yaml").read_text(encoding="utf-8")
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    assert "jobLabel: app.kubernetes.io/name" in monitor
    assert 'app.kubernetes.io/name: {{ include "dts-exporter.name" . }}' in helpers
    assert "default .Chart.Name .Values.nameOverride" in helpers
    assert values["nameOverride"] == ""
    exprs = {rule["alert"]: rule["expr"].strip() for rule in alerts()}
    assert exprs["DtsExporterDown"] == f'up{{job="{chart_name}"}} == 0'
    assert exprs["DtsExporterAbsent"] == f'absent(up{{job="{chart_name}"}})'
