"""scripts/venv.sh: `./scripts/demo` and `./scripts/test` install only when something changed.

`ensure_venv` runs for real in bash, in a scratch directory whose `.venv/bin/python` is a
stand-in that records how it was called (and answers `--version`)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs bash

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$CALLS"
if [ "$1" = --version ]; then echo "Python ${FAKE_VERSION:-3.11.7}"; fi
"""


def ensure_venv(project: Path, spec: str, version: str = "3.11.7") -> list[str]:
    """Run `ensure_venv SPEC` in `project`; the pip installs it ran."""
    calls = project / "calls.log"
    calls.write_text("", encoding="utf-8")
    script = f'set -euo pipefail; . "{ROOT / "scripts" / "venv.sh"}"; ensure_venv "$1"'
    env = {**os.environ, "CALLS": str(calls), "FAKE_VERSION": version}
    subprocess.run(["bash", "-c", script, "-", spec], cwd=project, env=env, check=True)
    return [line for line in calls.read_text(encoding="utf-8").splitlines() if "pip" in line]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    return tmp_path


def test_installs_once_then_skips_until_pyproject_or_python_changes(project: Path) -> None:
    install = "-m pip install -q --disable-pip-version-check -e ."
    assert ensure_venv(project, ".") == [install]
    assert ensure_venv(project, ".") == []  # the second start: nothing to do
    (project / "pyproject.toml").write_text('[project]\nname = "y"\n', encoding="utf-8")
    assert ensure_venv(project, ".") == [install]
    assert ensure_venv(project, ".") == []
    assert ensure_venv(project, ".", version="3.12.1") == [install]
    assert ensure_venv(project, ".", version="3.12.1") == []


def test_each_spec_has_its_own_stamp(project: Path) -> None:
    assert ensure_venv(project, ".") != []
    assert ensure_venv(project, ".[test,docs]") == [
        "-m pip install -q --disable-pip-version-check -e .[test,docs]"
    ]
    assert ensure_venv(project, ".") == [] and ensure_venv(project, ".[test,docs]") == []


def test_an_existing_venv_gets_no_pip_upgrade(project: Path) -> None:
    calls = ensure_venv(project, ".")
    assert not any("--upgrade" in call for call in calls)


def test_demo_and_test_scripts_use_it() -> None:
    for name, spec in (("demo", r"^ensure_venv \.\s"), ("test", r"^ensure_venv '\.\[test\S*\]'")):
        text = (ROOT / "scripts" / name).read_text(encoding="utf-8")
        assert ". scripts/venv.sh" in text and re.search(spec, text, re.MULTILINE)
        assert "pip install" not in text  # only through ensure_venv
