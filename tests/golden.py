"""The checked-in outputs the tests compare against, and how they are built: the golden
exposition (tests/fixtures/golden.prom, `test_golden.py`) and the README's metric
reference (`test_readme.py`).

The tests only compare. After an intended change, `.venv/bin/python -m tools.regenerate`
rewrites both from the functions here; review the diff before committing.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from dts_exporter.actions import NAMES, initialization, modify_status
from dts_exporter.base.api import DESCRIBE_INITIALIZATION_STATUS, DESCRIBE_MODIFY_STATUS
from dts_exporter.base.errors import DtsApiError
from dts_exporter.config import JobConfig
from dts_exporter.exposition import ALL_METRICS, build_families
from dts_exporter.selfmetrics import ApiStats
from tests.conftest import FIXTURES, ROOT, StaticCollector, make_snapshot

GOLDEN = FIXTURES / "golden.prom"
README_PATH = ROOT / "README.md"


def sample_exposition(init_body: dict[str, Any], modify_body: dict[str, Any]) -> bytes:
    """The exposition of the two recorded sample answers (the `init_body` and
    `modify_body` fixtures), a throttled job beside them, and a few API call counts."""
    stats = ApiStats(NAMES)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Success", 0.12)
    stats.observe(DESCRIBE_INITIALIZATION_STATUS, "Throttling.User", 0.03)
    stats.observe(DESCRIBE_MODIFY_STATUS, "Success", 0.08)
    snapshot = make_snapshot(
        [
            (
                JobConfig(id="dtsi76118o3w92", name="orders", modify_tasks=("k71r16fj13g",)),
                initialization.parse(init_body),
                None,
            ),
            (
                JobConfig(id="dtsthrottled01", name="billing"),
                None,
                DtsApiError("Throttling.User", "Request was denied due to user flow control."),
            ),
        ],
        [("dtsi76118o3w92", "k71r16fj13g", modify_status.parse(modify_body), None)],
    )
    registry = CollectorRegistry()
    registry.register(StaticCollector(build_families(snapshot, stats)))
    return generate_latest(registry)


def metric_table() -> str:
    """The README's metric reference, one row per declared metric."""
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for m in ALL_METRICS:
        name = m.name + ("_total" if m.type == "counter" else "")
        labels = ", ".join(m.labels) if m.labels else "—"
        lines.append(f"| `{name}` | {m.type} | {labels} | {m.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def with_metric_table(readme: str) -> str:
    """The README with its metric reference written from the declarations."""
    head, rest = readme.split("<!-- metrics:start -->\n", 1)
    tail = rest.split("<!-- metrics:end -->", 1)[1]
    return f"{head}<!-- metrics:start -->\n{metric_table()}<!-- metrics:end -->{tail}"
