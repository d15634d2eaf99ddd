"""The README's metric reference and commands stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from dts_exporter.metrics import ALL_METRICS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


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
    declared = [
        (m.name + ("_total" if m.type == "counter" else ""), m.type, m.labels) for m in ALL_METRICS
    ]
    assert _metric_rows() == declared


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/demo" in README and "./scripts/test" in README
    assert (ROOT / "scripts" / "demo").exists() and (ROOT / "scripts" / "test").exists()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci
