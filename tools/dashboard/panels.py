"""One factory per panel type, carrying the project's house style (legends, tooltips,
reductions, table options) so that the row modules declare each panel in a few lines.

Every panel and every query reads the `$datasource` template variable (see `build` for why
not `${DS_PROMETHEUS}`).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge as bargauge_panel
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import statetimeline as statetimeline_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from tools.dashboard.kit import DATASOURCE, Head, Overrides, Q, thresholds


def _targets(
    queries: Sequence[Q], *, instant: bool, table: bool = False
) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    built: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for index, query in enumerate(queries):
        target = prometheus.Dataquery().datasource(DATASOURCE).ref_id(chr(ord("A") + index))
        target = target.expr(query.expr)
        if query.legend is not None:
            target = target.legend_format(query.legend)
        if table:
            target = target.format(PromQueryFormat.TABLE)
        built.append(target.instant() if instant else target.range())
    return built


def _reduce_last() -> common_b.ReduceDataOptions:
    return common_b.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def stat(
    head: Head,
    queries: Sequence[Q],
    *,
    unit: str,
    steps: dashboard_b.ThresholdsConfig,
    color_mode: common.BigValueColorMode = common.BigValueColorMode.VALUE,
    text_mode: common.BigValueTextMode = common.BigValueTextMode.AUTO,
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
    overrides: Overrides = (),
) -> stat_panel.Panel:
    panel = (
        stat_panel.Panel()
        .id(head.id)
        .title(head.title)
        .description(head.description)
        .datasource(DATASOURCE)
        .span(head.size[0])
        .height(head.size[1])
        .unit(unit)
        .color_scheme(dashboard_b.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .thresholds(steps)
        .reduce_options(_reduce_last())
        .color_mode(color_mode)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(text_mode)
        .wide_layout(True)
        .show_percent_change(False)
        .targets(_targets(queries, instant=True))
    )
    _limits(panel, minimum, maximum, decimals)
    for name, properties in overrides:
        panel = panel.override_by_name(name, properties)
    return panel


def bargauge(
    head: Head,
    queries: Sequence[Q],
    *,
    unit: str,
    color: str | None = None,
    steps: dashboard_b.ThresholdsConfig | None = None,
    vertical: bool = False,
    maximum: float | None = None,
    decimals: int | None = None,
    overrides: Overrides = (),
) -> bargauge_panel.Panel:
    """Bars from 0, coloured by thresholds (or `color`), last value of each series."""
    panel = (
        bargauge_panel.Panel()
        .id(head.id)
        .title(head.title)
        .description(head.description)
        .datasource(DATASOURCE)
        .span(head.size[0])
        .height(head.size[1])
        .unit(unit)
        .min(0)
        .thresholds(steps or thresholds("green"))
        .reduce_options(_reduce_last())
        .orientation(
            common.VizOrientation.VERTICAL if vertical else common.VizOrientation.HORIZONTAL
        )
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .show_unfilled(True)
        .name_placement(common.BarGaugeNamePlacement.AUTO)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(16)
        .min_viz_width(8)
        .max_viz_height(300)
        .targets(_targets(queries, instant=True))
    )
    scheme = dashboard_b.FieldColor().mode(model.FieldColorModeId.THRESHOLDS)
    if color is not None:
        scheme = dashboard_b.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(color)
    panel = panel.color_scheme(scheme)
    _limits(panel, None, maximum, decimals)
    for name, properties in overrides:
        panel = panel.override_by_name(name, properties)
    return panel


def timeseries(
    head: Head,
    queries: Sequence[Q],
    *,
    unit: str,
    steps: dashboard_b.ThresholdsConfig | None = None,
    calcs: Sequence[str] = ("lastNotNull", "max"),
    fill: int = 10,
    axis_label: str | None = None,
    dashed_thresholds: bool = False,
    dashed_query: str | None = None,
) -> timeseries_panel.Panel:
    """Lines from 0 with a legend table of `calcs` (a plain list when there are none)."""
    legend = (
        common_b.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.TABLE if calcs else common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .calcs(list(calcs))
    )
    panel = (
        timeseries_panel.Panel()
        .id(head.id)
        .title(head.title)
        .description(head.description)
        .datasource(DATASOURCE)
        .span(head.size[0])
        .height(head.size[1])
        .unit(unit)
        .min(0)
        .color_scheme(dashboard_b.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(steps or thresholds("green"))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_interpolation(common.LineInterpolation.LINEAR)
        .line_width(1)
        .fill_opacity(fill)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .axis_placement(common.AxisPlacement.AUTO)
        .stacking(common_b.StackingConfig().mode(common.StackingMode.NONE).group("A"))
        .legend(legend)
        .tooltip(
            common_b.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .targets(_targets(queries, instant=False))
    )
    if axis_label is not None:
        panel = panel.axis_label(axis_label)
    if dashed_thresholds:
        panel = panel.thresholds_style(
            common_b.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    if dashed_query is not None:
        dash = common.LineStyle(fill="dash", dash=[10, 10])
        panel = panel.override_by_query(
            dashed_query, [model.DynamicConfigValue(id_val="custom.lineStyle", value=dash)]
        )
    return panel


def state_timeline(
    head: Head,
    queries: Sequence[Q],
    *,
    mapping: model.ValueMap,
    steps: dashboard_b.ThresholdsConfig | None = None,
) -> statetimeline_panel.Panel:
    """Coloured states over time: each value shown as `mapping` names and colours it."""
    return (
        statetimeline_panel.Panel()
        .id(head.id)
        .title(head.title)
        .description(head.description)
        .datasource(DATASOURCE)
        .span(head.size[0])
        .height(head.size[1])
        .unit("none")
        .color_scheme(dashboard_b.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .thresholds(steps or thresholds("green"))
        .fill_opacity(80)
        .line_width(0)
        .mappings([mapping])
        .show_value(common.VisibilityMode.AUTO)
        .merge_values(True)
        .align_value(common.TimelineValueAlignment.LEFT)
        .row_height(0.85)
        .legend(
            common_b.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common_b.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.SINGLE)
            .sort(common.SortOrder.NONE)
        )
        .targets(_targets(queries, instant=False))
    )


def table(
    head: Head,
    expr: str,
    transformation: model.DataTransformerConfig,
    *,
    unit: str = "none",
    steps: dashboard_b.ThresholdsConfig | None = None,
    mapping: model.ValueMap | None = None,
    sort_desc: str | None = None,
    overrides: Overrides = (),
) -> table_panel.Panel:
    """One instant query as a table (labels as columns), shaped by `transformation`."""
    panel = (
        table_panel.Panel()
        .id(head.id)
        .title(head.title)
        .description(head.description)
        .datasource(DATASOURCE)
        .span(head.size[0])
        .height(head.size[1])
        .unit(unit)
        .thresholds(steps or thresholds("green"))
        .align(common.FieldTextAlignment.AUTO)
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .footer(common_b.TableFooterOptions().show(False).reducer(["sum"]).count_rows(False))
        .sort_by(
            []
            if sort_desc is None
            else [common_b.TableSortByFieldState().display_name(sort_desc).desc(True)]
        )
        .targets(_targets([Q(expr)], instant=True, table=True))
        .transformations([transformation])
    )
    if mapping is not None:
        panel = panel.mappings([mapping])
    for name, properties in overrides:
        panel = panel.override_by_name(name, properties)
    return panel


def _limits(
    panel: stat_panel.Panel | bargauge_panel.Panel,
    minimum: float | None,
    maximum: float | None,
    decimals: int | None,
) -> None:
    if minimum is not None:
        panel.min(minimum)
    if maximum is not None:
        panel.max(maximum)
    if decimals is not None:
        panel.decimals(decimals)
