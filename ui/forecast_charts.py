"""Plotly figures for the forecast page. They take the small aggregated frames
crm_core returns (a row per stage or month), never deal-level data."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import polars as pl

from ui.i18n import t

CATEGORY_COLORS = {"closed": "#2e7d32", "commit": "#1565c0", "best_case": "#64b5f6", "pipeline": "#cfd8dc"}


def funnel_figure(funnel: pl.DataFrame) -> go.Figure:
    """Deals that entered each stage (a true funnel), with the conversion to the next in the hover."""
    conv = [("" if c is None else f"{c:.0%}") for c in funnel["conversion"].to_list()]
    fig = go.Figure(go.Funnel(
        y=[html.escape(n) for n in funnel["stage"].to_list()], x=funnel["entered"].to_list(), textinfo="value+percent initial",
        customdata=conv, hovertemplate="%{y}: %{x}<br>" + t("forecast.conversion") + " %{customdata}<extra></extra>",
    ))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=360,
                      title=t("forecast.funnel_chart"), clickmode="event+select")
    return fig


def forecast_figure(monthly: pl.DataFrame) -> go.Figure:
    """Stacked categories per month, the weighted forecast as a line, the target as markers."""
    months = [m.strftime("%Y-%m") for m in monthly["month"].to_list()]
    fig = go.Figure()
    for cat in ("closed", "commit", "best_case", "pipeline"):
        fig.add_bar(x=months, y=monthly[cat].cast(pl.Float64).to_list(), name=t(f"forecast.cat.{cat}"),
                    marker_color=CATEGORY_COLORS[cat])
    fig.add_scatter(x=months, y=monthly["forecast"].cast(pl.Float64).to_list(), name=t("forecast.col.forecast"),
                    mode="lines+markers", line={"color": "#e65100", "width": 3})
    if "target" in monthly.columns:
        fig.add_scatter(x=months, y=monthly["target"].cast(pl.Float64).to_list(), name=t("forecast.col.target"),
                        mode="markers", marker={"symbol": "line-ew-open", "size": 28, "color": "#b71c1c",
                                                "line": {"width": 3}})
    fig.update_layout(barmode="stack", height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h"})
    return fig


def velocity_figure(vel: pl.DataFrame, by: str) -> go.Figure:
    rows = vel.filter(~pl.col("is_total"))
    names = [html.escape(str(n)) for n in rows[by].to_list()]  # plotly renders a subset of HTML in labels
    fig = go.Figure(go.Bar(x=names, y=rows["velocity"].to_list(), marker_color="#1565c0"))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title=t("forecast.velocity_chart"))
    return fig


def accuracy_figure(totals: pl.DataFrame) -> go.Figure:
    months = [m.strftime("%Y-%m") for m in totals["month"].to_list()]
    fig = go.Figure()
    fig.add_bar(x=months, y=totals["forecast"].cast(pl.Float64).to_list(), name=t("forecast.col.forecast"))
    fig.add_bar(x=months, y=totals["actual"].cast(pl.Float64).to_list(), name=t("forecast.col.actual"))
    fig.update_layout(barmode="group", height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h"})
    return fig
