"""The README's metric reference and commands stay in step with the code."""

from __future__ import annotations

import re

from dts_exporter.exposition import ALL_METRICS
from tests.conftest import ROOT
from tests.golden import README_PATH, with_metric_table

README = README_PATH.read_text(encoding="utf-8")


def _metric_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    block = README.split("<!-- metrics:start -->", 1)[1].split("<!-- metrics:end -->", 1)[0]
    rows = []
    for line in block.splitlines():
        match = re.match(r"^\| `([a-z_]+)` \| (\w+) \| ([^|]*) \|", line)
        if match:
            labels = tuple(
                x.strip() for x in match.group(3).split(",") if x.strip() not in ("", "—")
            )
            rows.append((match.group(1), match.group(2), labels))
    return rows


def test_readme_documents_exactly_the_declared_metrics() -> None:
    """After an intended change, regenerate the table with `.venv/bin/python -m
    tools.regenerate`; the test always compares."""
    assert with_metric_table(README) == README
    declared = [
        (m.name + ("_total" if m.type == "counter" else ""), m.type, m.labels) for m in ALL_METRICS
    ]
    assert _metric_rows() == declared


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/demo" in README and "./scripts/test" in README
    assert (ROOT / "scripts" / "demo").exists() and (ROOT / "scripts" / "test").exists()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci


def _code_map() -> dict[str, str]:
    block = README.split("## Code map", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in block.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.*) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_code_map_covers_every_module_of_the_package() -> None:
    rows = _code_map()
    package = ROOT / "dts_exporter"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if path.name in ("__init__.py", "__main__.py") and path.parent == package:
            continue
        if path.parent == package:
            if str(relative) not in rows:
                missing.append(str(relative))
        elif path.name != "__init__.py":
            folder = f"{relative.parts[0]}/{relative.parts[1]}/"
            if f"`{path.stem}`" not in rows.get(folder, ""):
                missing.append(str(relative))
    assert missing == [], "modules the README's code map does not name"
    stale = [path for path in rows if not (ROOT / path).exists()]
    assert stale == [], "code map rows naming paths that do not exist"
