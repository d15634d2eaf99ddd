"""The README's metric reference and commands stay in step with the code."""

from __future__ import annotations

import os
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


def _metric_table() -> str:
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for m in ALL_METRICS:
        name = m.name + ("_total" if m.type == "counter" else "")
        labels = ", ".join(m.labels) if m.labels else "—"
        lines.append(f"| `{name}` | {m.type} | {labels} | {m.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def test_readme_documents_exactly_the_declared_metrics() -> None:
    """Regenerate the table after an intended change: UPDATE_README=1 pytest tests/test_readme.py"""
    if os.environ.get("UPDATE_README"):
        head, rest = README.split("<!-- metrics:start -->\n", 1)
        tail = rest.split("<!-- metrics:end -->", 1)[1]
        text = f"{head}<!-- metrics:start -->\n{_metric_table()}<!-- metrics:end -->{tail}"
        (ROOT / "README.md").write_text(text, encoding="utf-8")
        return
    declared = [
        (m.name + ("_total" if m.type == "counter" else ""), m.type, m.labels) for m in ALL_METRICS
    ]
    assert _metric_rows() == declared


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/demo" in README and "./scripts/test" in README
    assert (ROOT / "scripts" / "demo").exists() and (ROOT / "scripts" / "test").exists()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci
