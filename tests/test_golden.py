"""The exposition of the two recorded sample answers, byte for byte.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from dts_exporter.api_stats import ApiStats
from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import JobConfig
from dts_exporter.exposition import build_families
from dts_exporter.parsing import parse_initialization_status, parse_modify_status
from dts_exporter.snapshot import JobResult, Snapshot, TaskResult
from dts_exporter.wire.client import ACTIONS, DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS

GOLDEN = Path(__file__).parent / "fixtures" / "golden.prom"


class _Static(Collector):
    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self) -> Iterable[Family]:
        return self.families


def sample_exposition(init_body: dict[str, Any], modify_body: dict[str, Any]) -> bytes:
    stats = ApiStats(ACTIONS)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Success", 0.12)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Throttling.User", 0.03)
    stats.observe(DESCRIBE_MODIFY_STATUS, "Success", 0.08)
    snapshot = Snapshot(
        region="cn-hangzhou",
        jobs=(
            JobResult(
                JobConfig(id="dtsi76118o3w92", name="orders", modify_tasks=("k71r16fj13g",)),
                parse_initialization_status(init_body),
                None,
            ),
            JobResult(
                JobConfig(id="dtsthrottled01", name="billing"),
                None,
                DtsApiError("Throttling.User", "Request was denied due to user flow control."),
            ),
        ),
        tasks=(
            TaskResult("dtsi76118o3w92", "k71r16fj13g", parse_modify_status(modify_body), None),
        ),
        duration_seconds=0.5,
    )
    registry = CollectorRegistry()
    registry.register(_Static(build_families(snapshot, stats)))
    return generate_latest(registry)


def test_golden_exposition(init_body: dict[str, Any], modify_body: dict[str, Any]) -> None:
    actual = sample_exposition(init_body, modify_body)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(actual)
    assert actual.decode() == GOLDEN.read_text(encoding="utf-8")


def test_promtool_check_metrics_is_clean(
    init_body: dict[str, Any], modify_body: dict[str, Any]
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail(
                "promtool is not installed: the test command installs Debian's prometheus package"
            )
        pytest.skip("promtool not installed")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=sample_exposition(init_body, modify_body),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == ""
    assert result.stderr.decode().strip() == ""
