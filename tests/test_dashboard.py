"""Static lint of the Grafana dashboard (grafana/dashboard-linter rules, and this project's).

Every query must honour the dashboard's variables on every selector, use only metrics the
exporter declares (or the recording rules shipped beside it), and keep counters inside
rate()/increase() over $__rate_interval. No network, no Prometheus: the JSON is read as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dts_exporter.exposition import ALL_METRICS
from tests.dashboard import (
    ROOT,
    content_panels,
    iter_panels,
    load_dashboard,
    panel_queries,
    substitute,
)

RULES_PATH = ROOT / "alerts" / "dts-exporter.rules.yaml"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"timeseries", "stat", "table", "bargauge", "state-timeline"}
ROWS = [
    "Overview",
    "Job overview",
    "Data initialization",
    "Structure initialization",
    "Modify tasks",
    "Exporter health",
]
VARIABLE_QUERIES = {
    "job": "label_values(dts_exporter_build_info, job)",
    "instance": 'label_values(dts_exporter_build_info{job=~"$job"}, instance)',
    "job_id": 'label_values(dts_job_info{job=~"$job", instance=~"$instance"}, job_id)',
}
GRID_COLUMNS = 24

DASHBOARD = load_dashboard()
PANELS = content_panels(DASHBOARD)


def _recording_rules(path: Path) -> dict[str, tuple[str, ...]]:
    """Recorded series and their labels (every rule keeps job, instance, job_id)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = [
        str(rule["record"])
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]
    return {name: ("job_id",) for name in names}


def _series_labels() -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Every series name a query may select with its labels, and which of them count up."""
    series: dict[str, tuple[str, ...]] = {}
    counters: set[str] = set()
    for metric in ALL_METRICS:
        if metric.type == "counter":
            series[metric.name + "_total"] = metric.labels
            counters.add(metric.name + "_total")
        elif metric.type == "histogram":
            series[metric.name + "_bucket"] = (*metric.labels, "le")
            series[metric.name + "_sum"] = metric.labels
            series[metric.name + "_count"] = metric.labels
            counters.update(metric.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            series[metric.name] = metric.labels
    series.update(_recording_rules(RULES_PATH))
    return series, counters


SERIES, COUNTERS = _series_labels()


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: dict[str, tuple[str, str]] | None  # label -> (operator, value); None: no braces
    start: int
    end: int


_NAME = re.compile(r"(?<![\w:])(dts_[A-Za-z0-9_:]*|job_id:[A-Za-z0-9_:]+)")
_MATCHER = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _string_spans(expr: str) -> list[tuple[int, int]]:
    return [m.span() for m in _STRING.finditer(expr)]


def _closing_brace(expr: str, opening: int) -> int:
    """Index just past the `}` closing the selector opened at `opening`, quotes respected."""
    index = opening + 1
    while index < len(expr):
        char = expr[index]
        if char == '"':
            string = _STRING.match(expr, index)
            if string is None:
                raise ValueError(f"unterminated string in {expr!r}")
            index = string.end()
            continue
        if char == "}":
            return index + 1
        index += 1
    raise ValueError(f"unclosed selector in {expr!r}")


def _matchers(body: str) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    position, body = 0, body.strip()
    while position < len(body):
        item = _MATCHER.match(body, position)
        if item is None:
            raise ValueError(f"cannot parse label matchers {body!r}")
        found[item.group(1)] = (item.group(2), item.group(3))
        position = item.end()
    return found


def selectors(expr: str) -> Iterator[Selector]:
    """Every `name{...}` (or bare `name`) of a dts_ metric or job_id: recording rule."""
    strings = _string_spans(expr)
    position = 0
    while match := _NAME.search(expr, position):
        if any(start <= match.start() < end for start, end in strings):
            position = match.end()
            continue
        after = match.end()
        while after < len(expr) and expr[after].isspace():
            after += 1
        if after < len(expr) and expr[after] == "{":
            end = _closing_brace(expr, after)
            yield Selector(match.group(1), _matchers(expr[after + 1 : end - 1]), match.start(), end)
        else:
            end = match.end()
            yield Selector(match.group(1), None, match.start(), end)
        position = end


def problems(expr: str) -> list[str]:
    """Everything wrong with one (unexpanded) dashboard expression."""
    found: list[str] = []
    chosen = list(selectors(expr))
    if not chosen:
        found.append("selects no dts_ metric")
    for selector in chosen:
        name = selector.name
        if name not in SERIES:
            found.append(f"{name}: not a declared metric or recording rule")
            continue
        if selector.matchers is None:
            found.append(f"{name}: bare metric name, no job/instance matchers")
            continue
        wanted = {"job": "$job", "instance": "$instance"}
        if "job_id" in SERIES[name]:
            wanted["job_id"] = "$job_id"
        elif "job_id" in selector.matchers:
            found.append(f"{name}: has no job_id label, yet is matched on it")
        for label, variable in wanted.items():
            if selector.matchers.get(label) not in (("=~", variable), ("=~", f"${{{label}}}")):
                found.append(f'{name}: missing {label}=~"{variable}"')
        if name in COUNTERS:
            before = re.search(r"\b(?:rate|increase)\(\s*$", expr[: selector.start])
            after = re.match(r"\s*\[[^\]]*\]\s*\)", expr[selector.end :])
            if before is None or after is None:
                found.append(f"{name}: counter outside rate()/increase()")
    # Ranges and calls outside string literals (a regex matcher may hold brackets).
    expr = _STRING.sub('""', expr)
    for window in re.finditer(r"\[([^\]]*)\]", expr):
        if window.group(1).strip() != "$__rate_interval":
            found.append(f"range [{window.group(1)}] is not [$__rate_interval]")
    for call in re.finditer(r"\b(rate|increase)\(", expr):
        if not re.match(r"[^()]*\[\$__rate_interval\]\s*\)", expr[call.end() :]):
            found.append(f"{call.group(1)}() without a [$__rate_interval] window")
    return found


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(str(p.get("title")), t) for p in PANELS for t in p.get("targets", [])]


# -- the linter itself ------------------------------------------------------------------------

GOOD = 'sum(dts_up{job=~"$job", instance=~"$instance", job_id=~"$job_id"})'


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("sum(dts_up)", "bare metric name"),
        ('dts_up{job=~"$job"}', 'missing instance=~"$instance"'),
        ('dts_up{job=~"$job", instance=~"$instance"}', 'missing job_id=~"$job_id"'),
        ('dts_up{job="$job", instance=~"$instance", job_id=~"$job_id"}', 'missing job=~"$job"'),
        (
            'job_id:dts_data_initialization_eta:seconds{job=~"$job", instance=~"$instance"}',
            'missing job_id=~"$job_id"',
        ),
        (
            'dts_exporter_scrape_duration_seconds{job=~"$job", instance=~"$instance", '
            'job_id=~"$job_id"}',
            "has no job_id label",
        ),
        ('dts_exporter_api_requests_total{job=~"$job", instance=~"$instance"}', "counter"),
        ('rate(dts_exporter_api_requests_total{job=~"$job", instance=~"$instance"}[5m])', "[5m]"),
        ('dts_no_such_metric{job=~"$job", instance=~"$instance"}', "not a declared metric"),
        ('dts_exporter_api_requests{job=~"$job", instance=~"$instance"}', "not a declared"),
        ("vector(1)", "selects no dts_ metric"),
        (
            'increase(dts_exporter_response_problems_total{job=~"$job", instance=~"$instance"}'
            "[$__range])",
            "[$__range]",
        ),
        (
            'dts_exporter_api_request_duration_seconds_count{job=~"$job", instance=~"$instance"}',
            "counter outside",
        ),
    ],
)
def test_linter_catches(expr: str, problem: str) -> None:
    assert any(problem in p for p in problems(expr)), problems(expr)


def test_linter_accepts_good_queries() -> None:
    assert problems(GOOD) == []
    assert (
        problems(
            "histogram_quantile(0.9, sum by (le) (rate("
            'dts_exporter_api_request_duration_seconds_bucket{job=~"${job}", '
            'instance=~"${instance}"}[$__rate_interval])))'
        )
        == []
    )


def test_selector_parser_respects_quotes_and_labels() -> None:
    expr = (
        'sum by (job_id) (dts_up{action="a}b", job=~"$job"}) '
        '* on (job_id) group_left (name) dts_job_info{job=~"$job"}'
    )
    found = list(selectors(expr))
    assert [s.name for s in found] == ["dts_up", "dts_job_info"]
    assert found[0].matchers == {"action": ("=", "a}b"), "job": ("=~", "$job")}
    assert problems('dts_up{job=~"$job", instance=~"$instance", job_id=~"$job_id", a=~"[x]"}') == []
    with pytest.raises(ValueError, match="cannot parse"):
        list(selectors("dts_up{job=~$job}"))


def test_recording_rules_are_read_from_the_rules_file() -> None:
    recorded = [name for name in SERIES if name.startswith("job_id:")]
    assert "job_id:dts_data_initialization_eta:seconds" in recorded
    assert len(recorded) >= 4


# -- the dashboard ----------------------------------------------------------------------------


def test_dashboard_identity_and_settings() -> None:
    assert DASHBOARD["uid"] == "dts-exporter"
    assert DASHBOARD["title"] == "Alibaba Cloud DTS"
    assert DASHBOARD["id"] is None
    assert DASHBOARD["schemaVersion"] >= 39
    assert DASHBOARD["editable"] is False
    assert DASHBOARD["graphTooltip"] == 1
    assert DASHBOARD["timezone"] in ("utc", "browser")
    assert DASHBOARD["refresh"] == "30s"
    assert DASHBOARD["time"]["from"] == "now-1h"
    assert DASHBOARD["tags"]


def test_variables() -> None:
    variables = DASHBOARD["templating"]["list"]
    assert [v["name"] for v in variables] == ["datasource", "job", "instance", "job_id"]
    datasource = variables[0]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    for variable in variables[1:]:
        name = variable["name"]
        assert variable["type"] == "query", name
        assert variable["datasource"] == DATASOURCE, name
        assert variable["query"] == VARIABLE_QUERIES[name], name
        assert variable["multi"] is True, name
        assert variable["includeAll"] is True, name
        assert variable["allValue"] == ".*", name
        assert variable["refresh"] == 2, name


def test_rows_in_order_and_overview_first() -> None:
    rows = [p for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == ROWS
    assert DASHBOARD["panels"][0]["type"] == "row"
    overview: list[dict[str, Any]] = []
    for panel in DASHBOARD["panels"][1:]:
        if panel["type"] == "row":
            break
        overview.append(panel)
    top = min(p["gridPos"]["y"] for p in overview)
    assert {p["type"] for p in overview if p["gridPos"]["y"] == top} <= {"stat", "bargauge"}
    assert sum(p["type"] == "stat" for p in overview) >= 3


def test_job_overview_row_follows_the_overview_and_covers_job_health() -> None:
    rows = [i for i, p in enumerate(DASHBOARD["panels"]) if p["type"] == "row"]
    start, end = rows[1], rows[2]
    assert DASHBOARD["panels"][start]["title"] == "Job overview"
    assert DASHBOARD["panels"][start]["collapsed"] is False
    panels = DASHBOARD["panels"][start + 1 : end]
    metrics = {s.name for p in panels for t in p["targets"] for s in selectors(t["expr"])}
    assert metrics >= {
        "dts_job_status",
        "dts_job_delay_seconds",
        "dts_job_records_per_second",
        "dts_job_bytes_per_second",
        "dts_job_retrying",
        "dts_job_retry_count",
        "dts_data_verification_diff_rows",
        "dts_job_verification_status",
    }
    (status,) = [p for p in panels if p["title"] == "Job status"]
    assert status["type"] == "state-timeline"
    # every documented status has its own value in the timeline, 0 being any other
    mapped = status["fieldConfig"]["defaults"]["mappings"][0]["options"]
    codes = re.findall(r'status="(\w+)"[^}]*\} \* (\d+)', status["targets"][0]["expr"])
    assert {code: mapped[code]["text"] for _, code in codes} == dict((c, n) for n, c in codes)
    assert mapped["0"]["text"] == "Other"
    assert len(mapped) == len(codes) + 1 == 18


@pytest.mark.parametrize("panel", PANELS, ids=[str(p.get("title")) for p in PANELS])
def test_panel_basics(panel: dict[str, Any]) -> None:
    assert panel["type"] in PANEL_TYPES
    assert panel.get("title", "").strip()
    assert len(panel.get("description", "").strip()) >= 20
    assert panel.get("datasource") == DATASOURCE
    assert panel["fieldConfig"]["defaults"].get("unit")
    assert panel.get("targets")
    for target in panel["targets"]:
        assert target.get("datasource", DATASOURCE) == DATASOURCE
        assert target.get("refId")
        assert target.get("expr")
    if panel["type"] == "table":
        for target in panel["targets"]:
            assert target.get("format") == "table"
            assert target.get("instant") is True


def test_ref_ids_unique_per_panel() -> None:
    for panel in PANELS:
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


@pytest.mark.parametrize(
    ("title", "target"), _targets(), ids=[f"{t}:{x['refId']}" for t, x in _targets()]
)
def test_query_lint(title: str, target: dict[str, Any]) -> None:
    assert problems(target["expr"]) == [], title


def test_every_variable_in_queries_is_defined() -> None:
    defined = {v["name"]: ".*" for v in DASHBOARD["templating"]["list"]}
    expanded = panel_queries(DASHBOARD, defined)
    assert len(expanded) == len(_targets())
    for title, expr in expanded:
        assert "$" not in expr, title


def test_panel_queries_substitutes_and_reaches_collapsed_rows() -> None:
    variables = {"job_id": "j1", "job": "j2", "__rate_interval": "2m"}
    expr = 'x{a=~"$job_id", b=~"${job}"}[$__rate_interval]'
    assert substitute(expr, variables) == 'x{a=~"j1", b=~"j2"}[2m]'
    assert substitute("[$__rate_interval]", {}) == "[1m]"
    with pytest.raises(KeyError):
        substitute("$nope", {})
    collapsed = [
        p["title"] for row in DASHBOARD["panels"] if row.get("collapsed") for p in row["panels"]
    ]
    empty = {"job": "", "instance": "", "job_id": ""}
    titles = {title for title, _ in panel_queries(DASHBOARD, empty)}
    assert collapsed and set(collapsed) <= titles


def test_panel_ids_unique() -> None:
    ids = [p["id"] for p in iter_panels(DASHBOARD)]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids))


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    grid = panel["gridPos"]
    return {
        (x, y)
        for x in range(grid["x"], grid["x"] + grid["w"])
        for y in range(grid["y"], grid["y"] + grid["h"])
    }


def _assert_no_overlap(panels: list[dict[str, Any]]) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        for cell in _cells(panel):
            assert cell not in taken, f"{panel['title']} overlaps {taken[cell]} at {cell}"
            taken[cell] = panel["title"]


def test_grid_within_24_columns_without_overlap() -> None:
    for panel in iter_panels(DASHBOARD):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["y"] >= 0, panel["title"]
        assert grid["w"] >= 1 and grid["h"] >= 1, panel["title"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
    _assert_no_overlap(DASHBOARD["panels"])
    for row in DASHBOARD["panels"]:
        if row["type"] == "row" and row.get("collapsed"):
            _assert_no_overlap(row["panels"])
            assert all(p["gridPos"]["y"] > row["gridPos"]["y"] for p in row["panels"])
        elif row["type"] == "row":
            assert row["panels"] == [], f"expanded row {row['title']} must not nest panels"


# -- import and provisioning ------------------------------------------------------------------


def test_import_asks_for_one_prometheus_data_source() -> None:
    """Import -> Upload JSON asks for the data source named in `__inputs`; the choice becomes
    the `datasource` variable's default, the one place `${DS_...}` appears. Panels and queries
    read `$datasource` only, so a provisioned copy (no `__inputs` substitution) still works."""
    (source,) = DASHBOARD["__inputs"]
    assert source["type"] == "datasource"
    assert source["pluginId"] == "prometheus"
    assert source["label"]
    reference = "${" + source["name"] + "}"
    datasource = DASHBOARD["templating"]["list"][0]
    assert datasource["current"]["value"] == reference
    rest = {key: value for key, value in DASHBOARD.items() if key != "__inputs"}
    assert json.dumps(rest).count(reference) == 1
    assert "${DS_" not in json.dumps(DASHBOARD["panels"])


def test_requires_lists_grafana_prometheus_and_every_panel_type() -> None:
    requires = DASHBOARD["__requires"]
    assert all(r["name"] and "version" in r for r in requires)
    ids = [(r["type"], r["id"]) for r in requires]
    assert len(ids) == len(set(ids))
    assert {("grafana", "grafana"), ("datasource", "prometheus")} <= set(ids)
    assert {i for kind, i in ids if kind == "panel"} == {p["type"] for p in PANELS}
