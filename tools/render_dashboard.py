"""Render the main panels of dashboards/dts-exporter.json to a PNG from real Prometheus data.

Grafana is not available everywhere the project is built, so this draws a Grafana-like
picture with matplotlib: each chosen panel's own query is run against Prometheus (instant
queries for stat, bar gauge and table panels, range queries for time series and state
timelines) with every variable set to All, and drawn with the panel's title, unit,
thresholds and value mappings.

    .venv/bin/pip install -e '.[docs]'
    .venv/bin/python tools/render_dashboard.py --prometheus http://127.0.0.1:9090

docs/dashboard.png comes from `dts-exporter demo --demo-offset 360` scraped every 2 s for
about five minutes by a Prometheus that loads alerts/dts-exporter.rules.yaml (some panels
read its recording rules), then drawn with `--range 240`. A drawn panel without data is an
error (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "dashboards" / "dts-exporter.json"

Panel = dict[str, Any]

# Grafana's dark theme.
PAGE = "#111217"
PANEL_BG = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
DIM = "#8e8e9b"
GRID = "#2a2d33"
NAMED_COLORS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "yellow": "#fade2a",
    "orange": "#ff9830",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "text": TEXT,
    "transparent": PANEL_BG,
}
PALETTE = [
    "#7eb26d",
    "#eab839",
    "#6ed0e0",
    "#ef843c",
    "#e24d42",
    "#1f78c1",
    "#ba43a9",
    "#705da0",
    "#508642",
    "#cca300",
]

# The panels drawn and where: (title, grid row, first column, columns) on a 24-column grid.
# Overview first, then the Job overview row, then the other rows' main panels.
LAYOUT: tuple[tuple[str, int, int, int], ...] = (
    ("Jobs readable", 0, 0, 4),
    ("Data initialization progress", 0, 4, 4),
    ("Failures now", 0, 8, 4),
    ("Tables by status", 0, 12, 12),
    ("Job status", 1, 0, 12),
    ("Job delay", 1, 12, 12),
    ("Records per second", 2, 0, 6),
    ("Bytes per second", 2, 6, 6),
    ("Retrying", 2, 12, 6),
    ("Retry count", 2, 18, 6),
    ("Retry target", 3, 0, 8),
    ("Verification differences", 3, 8, 9),
    ("Verification status", 3, 17, 7),
    ("Modify task status", 4, 0, 12),
    ("Synchronization delay", 4, 12, 12),
    ("Rows copied per second", 5, 0, 8),
    ("Row gap", 5, 8, 8),
    ("Estimated time left", 5, 16, 8),
    ("Failed schema objects", 6, 0, 12),
    ("Stage progress", 6, 12, 12),
)
ROW_HEIGHTS = (1.0, 1.6, 1.5, 0.75, 1.6, 1.6, 1.7)
FIGURE_SIZE = (22.0, 22.0)  # inches at 100 dpi
TABLE_LINE = 0.24  # height of a table line, inches
BAR_LEFT, BAR_WIDTH = 0.42, 0.46  # horizontal bar gauges, in axes fractions
UNIT_NAMES = {"percentunit": "%", "s": "seconds", "reqps": "requests/s"}


@dataclass
class Series:
    labels: dict[str, str]
    name: str
    times: list[float] = field(default_factory=list)  # Unix seconds
    values: list[float] = field(default_factory=list)

    @property
    def last(self) -> float:
        return self.values[-1] if self.values else math.nan


# -- reading the dashboard --------------------------------------------------------------------


def all_panels(dashboard: Mapping[str, Any]) -> Iterator[Panel]:
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def expand(expr: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise SystemExit(f"render_dashboard: no value for ${name} in {expr!r}")
        return variables[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


def legend(template: str | None, labels: Mapping[str, str]) -> str:
    if not template:
        shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
        return ", ".join(f"{k}={v}" for k, v in shown.items()) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


# -- Prometheus -------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, url: str, end: float, seconds: int) -> None:
        self.url = url.rstrip("/")
        self.end = end
        self.start = end - seconds
        self.step = max(2, seconds // 300)
        self.session = requests.Session()

    def _get(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            answer = self.session.get(self.url + path, params=params, timeout=30)
        except requests.RequestException as error:
            raise SystemExit(f"render_dashboard: {self.url}: {error}") from None
        body = answer.json()
        if body.get("status") != "success":
            raise SystemExit(f"render_dashboard: {params['query']!r}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def instant(self, expr: str) -> list[tuple[dict[str, str], float]]:
        result = self._get("/api/v1/query", {"query": expr, "time": str(self.end)})
        return [(r["metric"], float(r["value"][1])) for r in result]

    def range(self, expr: str) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        params = {
            "query": expr,
            "start": str(self.start),
            "end": str(self.end),
            "step": str(self.step),
        }
        result = self._get("/api/v1/query_range", params)
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in result]


def panel_series(
    panel: Panel, prometheus: Prometheus, variables: Mapping[str, str]
) -> list[Series]:
    ranged = panel["type"] in ("timeseries", "state-timeline")
    found: list[Series] = []
    for target in panel["targets"]:
        expr = expand(target["expr"], variables)
        template = target.get("legendFormat")
        if ranged:
            for labels, points in prometheus.range(expr):
                series = Series(labels, legend(template, labels))
                for stamp, value in points:
                    series.times.append(stamp)
                    series.values.append(value)
                found.append(series)
        else:
            for labels, value in prometheus.instant(expr):
                found.append(Series(labels, legend(template, labels), values=[value]))
    return found


# -- units, thresholds, mappings --------------------------------------------------------------


def _short(value: float, decimals: int | None) -> str:
    for limit, suffix in ((1e12, " Tri"), (1e9, " Bil"), (1e6, " Mil"), (1e3, " K")):
        if abs(value) >= limit:
            return (
                f"{value / limit:.{2 if decimals is None else decimals}f}".rstrip("0").rstrip(".")
                + suffix
            )
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:.3g}"


def _duration(value: float) -> str:
    if value == 0:
        return "0 s"
    for limit, size, suffix in ((86400, 86400, "day"), (3600, 3600, "hour"), (60, 60, "min")):
        if abs(value) >= limit:
            return f"{value / size:.1f}".removesuffix(".0") + f" {suffix}"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f}".removesuffix(".0") + " s"


def _bytes_per_second(value: float, decimals: int | None) -> str:
    for limit, suffix in (
        (1 << 40, "TiB/s"),
        (1 << 30, "GiB/s"),
        (1 << 20, "MiB/s"),
        (1024, "KiB/s"),
    ):
        if abs(value) >= limit:
            text = f"{value / limit:.{2 if decimals is None else decimals}f}"
            if decimals is None:
                text = text.rstrip("0").rstrip(".")
            return f"{text} {suffix}"
    return f"{value:.0f} B/s"


def format_value(value: float, unit: str, decimals: int | None = None) -> str:
    if math.isnan(value):
        return "—"
    if unit == "percentunit":
        return f"{value * 100:.{1 if decimals is None else decimals}f}%"
    if unit == "s":
        return _duration(value)
    if unit == "reqps":
        return f"{_short(value, decimals)} req/s"
    if unit == "binBps":
        return _bytes_per_second(value, decimals)
    return _short(value, decimals)


def color(name: str | None) -> str:
    if not name:
        return TEXT
    return NAMED_COLORS.get(name, name)


def threshold_color(value: float, defaults: Mapping[str, Any]) -> str:
    chosen = "green"
    for step in defaults.get("thresholds", {}).get("steps", []):
        if step.get("value") is None or value >= float(step["value"]):
            chosen = step["color"]
    return color(chosen)


def mapped(value: float | str, mappings: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """A value mapping's text and colour for a number or (a table's label cell) a string."""
    if isinstance(value, str):
        key = value
    elif math.isnan(value):
        return None
    else:
        key = str(int(value)) if value == int(value) else str(value)
    for mapping in mappings:
        if mapping.get("type") == "value" and key in mapping.get("options", {}):
            option = mapping["options"][key]
            return str(option.get("text", key)), color(option.get("color"))
    return None


def override(panel: Panel, name: str, prop_id: str) -> Any:
    """The value of property `prop_id` that an override by field name gives field `name`."""
    for item in panel["fieldConfig"].get("overrides", []):
        matcher = item.get("matcher", {})
        if matcher.get("id") != "byName" or matcher.get("options") != name:
            continue
        for prop in item.get("properties", []):
            if prop.get("id") == prop_id:
                return prop.get("value")
    return None


def override_color(panel: Panel, name: str) -> str | None:
    value = override(panel, name, "color")
    if isinstance(value, dict) and value.get("mode") == "fixed":
        return color(value.get("fixedColor"))
    return None


def value_color(panel: Panel, series: Series, value: float) -> str:
    defaults = panel["fieldConfig"]["defaults"]
    fixed = override_color(panel, series.name)
    if fixed:
        return fixed
    mode = defaults.get("color", {}).get("mode", "thresholds")
    if mode == "fixed":
        return color(defaults["color"].get("fixedColor"))
    return threshold_color(value, defaults)


# -- drawing ----------------------------------------------------------------------------------


def frame(ax: Axes, panel: Panel, note: str = "") -> None:
    ax.set_facecolor(PANEL_BG)
    for spine in ax.spines.values():
        spine.set_color(BORDER)
    unit = UNIT_NAMES.get(panel["fieldConfig"]["defaults"].get("unit", ""))
    title = panel["title"] + (f"  ({unit})" if unit else "")
    ax.set_title(title, loc="left", color=TEXT, fontsize=10, fontweight="bold", pad=6)
    if note:
        ax.text(
            1.0, 1.02, note, transform=ax.transAxes, ha="right", va="bottom", color=DIM, fontsize=7
        )
    ax.tick_params(colors=DIM, labelsize=7)


def bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def draw_stat(ax: Axes, panel: Panel, series: list[Series]) -> None:
    frame(ax, panel)
    bare(ax)
    defaults = panel["fieldConfig"]["defaults"]
    background = panel.get("options", {}).get("colorMode") == "background"
    width = 1 / max(len(series), 1)
    for index, item in enumerate(series):
        text = format_value(item.last, defaults.get("unit", ""), defaults.get("decimals"))
        tint = value_color(panel, item, item.last)
        left = index * width
        if background:
            ax.add_patch(
                Rectangle(
                    (left + 0.02, 0.04),
                    width - 0.04,
                    0.92,
                    color=tint,
                    transform=ax.transAxes,
                    zorder=0,
                )
            )
        shown = "white" if background else tint
        ax.text(
            left + width / 2,
            0.5,
            text,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=26,
            color=shown,
            fontweight="bold",
        )
        if len(series) > 1:
            ax.text(
                left + width / 2,
                0.12,
                item.name,
                transform=ax.transAxes,
                ha="center",
                color=DIM if not background else "white",
                fontsize=8,
            )


def draw_bargauge(ax: Axes, panel: Panel, series: list[Series]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit", "")
    series = sorted(series, key=lambda s: s.name)
    values = [0.0 if math.isnan(s.last) else s.last for s in series]
    top = float(defaults.get("max", max(values, default=1.0) or 1.0))
    colors = [value_color(panel, s, v) for s, v in zip(series, values, strict=True)]
    texts = [format_value(v, unit, defaults.get("decimals")) for v in values]
    frame(ax, panel)
    ax.grid(False)
    positions = list(range(len(series)))
    if panel.get("options", {}).get("orientation") == "vertical":
        ax.bar(positions, [top] * len(values), color=BORDER, width=0.7)
        ax.bar(positions, values, color=colors, width=0.7)
        ax.set_xticks(positions, [s.name for s in series], color=TEXT, fontsize=8)
        ax.set_yticks([])
        ax.set_ylim(0, top * 1.3)
        for x, value, text, tint in zip(positions, values, texts, colors, strict=True):
            ax.text(
                x, value + top * 0.04, text, ha="center", color=tint, fontsize=11, fontweight="bold"
            )
        return
    # Horizontal: Grafana's layout, name | bar | value, drawn in axes coordinates so that
    # long names stay inside the panel.
    bare(ax)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    slot = 1 / max(len(series), 1)
    size = 7.5 if len(series) > 8 else 9
    for index, (item, value, text, tint) in enumerate(
        zip(series, values, texts, colors, strict=True)
    ):
        middle = 1 - (index + 0.5) * slot
        height = min(slot * 0.7, 0.14)
        ax.text(0.01, middle, item.name, va="center", ha="left", color=TEXT, fontsize=size)
        ax.add_patch(Rectangle((BAR_LEFT, middle - height / 2), BAR_WIDTH, height, color=BORDER))
        share = min(max(value / top, 0.0), 1.0) if top else 0.0
        ax.add_patch(
            Rectangle((BAR_LEFT, middle - height / 2), BAR_WIDTH * share, height, color=tint)
        )
        ax.text(
            0.99,
            middle,
            text,
            va="center",
            ha="right",
            color=tint,
            fontsize=size,
            fontweight="bold",
        )


def value_axis(ax: Axes, unit: str) -> None:
    """About five y ticks on numbers that are round in the unit shown: 30 s, 5 min, 256 KiB/s."""
    bottom, top = ax.get_ylim()
    scale, steps = 1.0, [1.0, 2.0, 2.5, 5.0, 10.0]
    if unit == "s":
        scale = next((s for s in (3600.0, 60.0) if top >= 2 * s), 1.0)
        steps = [1.0, 1.5, 3.0, 6.0, 10.0] if scale == 1 else [1.0, 2.0, 5.0, 10.0]
    elif unit == "binBps" and top > 0:
        scale = 1024.0 ** max(int(math.log(top / 4, 1024)), 0) if top > 4 else 1.0
        steps = [1.0, 1.28, 2.56, 5.12, 10.0]
    ticks = MaxNLocator(5, steps=steps).tick_values(bottom / scale, top / scale)
    if len(ticks) > 1 and ticks[1] > ticks[0]:
        ax.yaxis.set_major_locator(MultipleLocator(float(ticks[1] - ticks[0]) * scale))


def time_axis(ax: Axes, series: list[Series]) -> None:
    """Unix-second x axis labelled HH:MM in UTC, ticks on round minutes."""
    stamps = [t for item in series for t in item.times]
    if not stamps:
        return
    span = max(stamps) - min(stamps)
    step = next((s for s in (60, 120, 300, 600, 900, 1800, 3600) if span / s <= 8), 7200)
    ax.set_xlim(min(stamps), max(stamps))
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: datetime.fromtimestamp(v, tz=timezone.utc).strftime("%H:%M"))
    )


def draw_timeseries(ax: Axes, panel: Panel, series: list[Series]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit", "")
    frame(ax, panel)
    for index, item in enumerate(sorted(series, key=lambda s: s.name)):
        tint = PALETTE[index % len(PALETTE)]
        ax.plot(item.times, item.values, color=tint, linewidth=1.3, label=item.name)
        fill = defaults.get("custom", {}).get("fillOpacity", 0)
        if fill:
            ax.fill_between(item.times, item.values, color=tint, alpha=fill / 100, linewidth=0)
    style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
    if style != "off":
        for step in defaults.get("thresholds", {}).get("steps", []):
            if step.get("value") is not None:
                ax.axhline(
                    float(step["value"]),
                    color=color(step["color"]),
                    linewidth=1.0,
                    linestyle="--" if style.startswith("dashed") else "-",
                )
    if "min" in defaults:
        ax.set_ylim(bottom=float(defaults["min"]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))
    value_axis(ax, unit)
    time_axis(ax, series)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, -0.09),
        ncol=min(max(len(series), 1), 4),
        fontsize=7.5,
        frameon=False,
        labelcolor=TEXT,
        handlelength=1.2,
    )


def draw_state_timeline(ax: Axes, panel: Panel, series: list[Series]) -> None:
    mappings = panel["fieldConfig"]["defaults"].get("mappings", [])
    frame(ax, panel)
    ordered = sorted(series, key=lambda s: s.name)
    for row, item in enumerate(ordered):
        runs: list[tuple[int, int]] = []
        for index, value in enumerate(item.values):
            if runs and item.values[runs[-1][0]] == value:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
        for first, last in runs:
            value = item.values[first]
            text, tint = mapped(value, mappings) or (format_value(value, "none"), DIM)
            start = item.times[first]
            end = item.times[last + 1] if last + 1 < len(item.times) else item.times[last]
            width = max(end - start, 1.0)
            ax.broken_barh([(start, width)], (row - 0.4, 0.8), facecolors=tint, alpha=0.85)
            ax.text(
                start + width * 0.01,
                row,
                text,
                va="center",
                ha="left",
                fontsize=7,
                color=PAGE,
                fontweight="bold",
                clip_on=True,
            )
    ax.set_yticks(range(len(ordered)), [s.name for s in ordered], color=TEXT, fontsize=7)
    ax.set_ylim(len(ordered) - 0.5, -0.5)
    time_axis(ax, series)


def _organize(panel: Panel) -> tuple[set[str], dict[str, int], dict[str, str]]:
    for transformation in panel.get("transformations", []):
        if transformation.get("id") == "organize":
            options = transformation["options"]
            hidden = {k for k, v in options.get("excludeByName", {}).items() if v}
            return hidden, options.get("indexByName", {}), options.get("renameByName", {})
    return {"Time", "__name__"}, {}, {}


def _cell(panel: Panel, column: str, value: float | str) -> tuple[str, str]:
    """A table cell's text and colour: value mappings, then thresholds (by column overrides)."""
    defaults = panel["fieldConfig"]["defaults"]
    mappings = override(panel, column, "mappings") or defaults.get("mappings", [])
    found = mapped(value, mappings)
    if found:
        return found
    if isinstance(value, str):
        return value, TEXT
    text = format_value(value, defaults.get("unit", ""), defaults.get("decimals"))
    thresholds = override(panel, column, "thresholds")
    if thresholds:
        return text, threshold_color(value, {"thresholds": thresholds})
    return text, TEXT


def draw_table(ax: Axes, panel: Panel, series: list[Series]) -> None:
    hidden, order, rename = _organize(panel)
    names: list[str] = []
    for item in series:
        names += [k for k in [*item.labels, "Value"] if k not in names and k not in hidden]
    names.sort(key=lambda k: order.get(k, len(order)))
    headers = [rename.get(n, n) for n in names]
    # As many lines as fit the panel's height, header included.
    inches = ax.get_position().height * FIGURE_SIZE[1]
    fit = max(int(inches / TABLE_LINE - 1.6), 1)
    ordered = series
    for sort in panel.get("options", {}).get("sortBy", [])[:1]:
        key = names[headers.index(sort["displayName"])] if sort["displayName"] in headers else ""
        if key == "Value":
            ordered = sorted(series, key=lambda s: s.last, reverse=bool(sort.get("desc")))
        elif key:
            ordered = sorted(
                series, key=lambda s: s.labels.get(key, ""), reverse=bool(sort.get("desc"))
            )
    rows: list[list[str]] = []
    tints: list[list[str]] = []
    for item in ordered[:fit]:
        row, tint = [], []
        for name, header in zip(names, headers, strict=True):
            value = item.last if name == "Value" else item.labels.get(name, "")
            text, shade = _cell(panel, header, value)
            row.append(text)
            tint.append(shade)
        rows.append(row)
        tints.append(tint)
    more = len(series) - len(rows)
    count = f"{len(series)} row" + ("s" if len(series) != 1 else "")
    frame(ax, panel, count + (f", first {len(rows)} shown" if more else ""))
    bare(ax)
    if not rows:
        return
    # Columns as wide as their longest text, together filling the panel.
    lengths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    table = ax.table(
        cellText=rows,
        colLabels=headers,
        colWidths=[n / sum(lengths) for n in lengths],
        loc="upper center",
        cellLoc="left",
        colLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    for (line, column), cell in table.get_celld().items():
        cell.set_edgecolor(BORDER)
        cell.set_height(TABLE_LINE / inches)
        if line == 0:
            cell.set_facecolor("#22252b")
            cell.get_text().set_color(TEXT)
            cell.get_text().set_fontweight("bold")
        else:
            cell.set_facecolor(PANEL_BG)
            cell.get_text().set_color(tints[line - 1][column])


DRAW: dict[str, Callable[[Axes, Panel, list[Series]], None]] = {
    "stat": draw_stat,
    "bargauge": draw_bargauge,
    "timeseries": draw_timeseries,
    "state-timeline": draw_state_timeline,
    "table": draw_table,
}


def render(
    dashboard: Mapping[str, Any], prometheus: Prometheus, variables: Mapping[str, str]
) -> tuple[Figure, dict[str, int]]:
    by_title = {p["title"]: p for p in all_panels(dashboard)}
    missing = [title for title, *_ in LAYOUT if title not in by_title]
    if missing:
        raise SystemExit(f"render_dashboard: no panel titled {', '.join(missing)}")
    figure = Figure(figsize=FIGURE_SIZE, dpi=100, facecolor=PAGE)
    height = FIGURE_SIZE[1]  # margins and header in inches, whatever the figure's height
    FigureCanvasAgg(figure)
    grid = GridSpec(
        len(ROW_HEIGHTS),
        24,
        figure=figure,
        height_ratios=ROW_HEIGHTS,
        left=0.07,
        right=0.985,
        top=1 - 1.2 / height,
        bottom=0.7 / height,
        hspace=0.55,
        wspace=3.2,
    )
    stamp = datetime.fromtimestamp(prometheus.end, tz=timezone.utc)
    minutes = round((prometheus.end - prometheus.start) / 60)
    figure.text(
        0.01, 1 - 0.42 / height, dashboard["title"], color=TEXT, fontsize=18, fontweight="bold"
    )
    header = (
        "job: All   instance: All   DTS job: All   "
        f"last {minutes} min to {stamp:%Y-%m-%d %H:%M:%S} UTC   "
        f"data: {prometheus.url}"
    )
    figure.text(0.01, 1 - 0.75 / height, header, color=DIM, fontsize=10)
    counts: dict[str, int] = {}
    for title, line, column, width in LAYOUT:
        panel = by_title[title]
        series = panel_series(panel, prometheus, variables)
        counts[title] = len(series)
        ax = figure.add_subplot(grid[line, column : column + width])
        DRAW[panel["type"]](ax, panel, series)
        if not series:
            ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", color=DIM)
    return figure, counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090", help="base URL")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--range", type=int, default=900, help="seconds of history")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    args = parser.parse_args(argv)
    dashboard = json.loads(args.dashboard.read_text(encoding="utf-8"))
    variables = {
        "job": ".*",
        "instance": ".*",
        "job_id": ".*",
        "__rate_interval": "1m",
        "__interval": "15s",
        "__range": f"{args.range}s",
    }
    prometheus = Prometheus(args.prometheus, time.time(), args.range)
    figure, counts = render(dashboard, prometheus, variables)
    figure.savefig(args.out, facecolor=PAGE)
    for title, count in counts.items():
        print(f"{count:4d}  {title}")
    print(f"wrote {args.out}")
    empty = [title for title, count in counts.items() if count == 0]
    if empty:
        print(f"panels without data: {', '.join(empty)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
