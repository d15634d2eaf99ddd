"""The exposition of the two recorded sample answers, byte for byte.

After an intended change, regenerate it with `.venv/bin/python -m tools.regenerate`; the
test always compares.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.golden import GOLDEN, sample_exposition


def test_golden_exposition(init_body: dict[str, Any], modify_body: dict[str, Any]) -> None:
    actual = sample_exposition(init_body, modify_body)
    assert actual.decode() == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.slow  # runs promtool
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
