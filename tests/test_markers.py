"""The `slow` marker is kept honest: a test outside it cannot start a process (the guard
is `pytest_runtest_protocol` in conftest.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_a_fast_test_cannot_start_a_process() -> None:
    with pytest.raises(AssertionError, match="is not marked slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


@pytest.mark.slow
def test_a_slow_test_can() -> None:
    result = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, check=False)
    assert result.stdout.strip() == b"ok"
