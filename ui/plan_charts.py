"""Plotly figures for the plan page: actual against target per member, the
cumulative line against the plan line, receivables ageing. Figures take the
aggregated frames crm_core returns (a few dozen rows), never raw deals."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import polars as pl

from ui.i18n import t

MAX_MEMBERS = 30  # bars beyond this are unreadable; the table below lists everyone


def bullet(df: pl.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of actual, a tick for the target, a hollow marker for the projection.

    customdata carries member_id so a click can drill into that member.
    """
    top = df.head(MAX_MEMBERS).reverse()
    # plotly reads a few HTML tags in labels: names are user text, so escape them
    members = [html.escape(str(m)) for m in top["member"].to_list()]
    ids = top["member_id"].to_list()
    fig = go.Figure()
    fig.add_bar(y=members, x=top["actual"].to_list(), orientation="h", name=t("plan.series.actual"),
                customdata=ids, marker_color="#4C78A8",
                hovertemplate="%{y}: %{x:,.2f}<extra></extra>")
    fig.add_scatter(y=members, x=top["target"].to_list(), mode="markers", name=t("plan.series.target"),
                    customdata=ids, marker={"symbol": "line-ns", "size": 22, "line": {"width": 3, "color": "#E45756"}},
                    hovertemplate="%{y}: %{x:,.2f}<extra></extra>")
    if top["projection"].is_not_null().any() and (top["elapsed_share"] < 1).any():
        fig.add_scatter(y=members, x=top["projection"].to_list(), mode="markers", name=t("plan.series.projection"),
                        customdata=ids, marker={"symbol": "diamond-open", "size": 10, "color": "#72B7B2"},
                        hovertemplate="%{y}: %{x:,.2f}<extra></extra>")
    fig.update_layout(title=title, height=max(260, 26 * len(members) + 110), margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.08}, barmode="overlay", clickmode="event+select")
    return fig


def cumulative(df: pl.DataFrame, title: str) -> go.Figure:
    """Cumulative actual (solid) against cumulative plan (dashed) month by month."""
    months = [m.strftime("%Y-%m") for m in df["month"].to_list()]
    fig = go.Figure()
    fig.add_bar(x=months, y=df["actual"].to_list(), name=t("plan.series.actual"), marker_color="#BFD3E6", opacity=0.7)
    fig.add_scatter(x=months, y=df["cumulative_actual"].to_list(), mode="lines+markers",
                    name=t("plan.series.cum_actual"), line={"color": "#4C78A8", "width": 3})
    fig.add_scatter(x=months, y=df["cumulative_plan"].to_list(), mode="lines", name=t("plan.series.cum_plan"),
                    line={"color": "#E45756", "dash": "dash", "width": 2})
    fig.update_layout(title=title, height=360, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def ageing(df: pl.DataFrame, buckets: tuple[str, ...], title: str) -> go.Figure:
    """Stacked bars of outstanding money per member, one colour per ageing bucket."""
    top = df.head(15).reverse()
    colours = ["#54A24B", "#EECA3B", "#F58518", "#E45756", "#9D2A2A"]
    fig = go.Figure()
    for b, colour in zip(buckets, colours):
        fig.add_bar(y=[html.escape(str(m)) for m in top["member"].fill_null("—").to_list()], x=top[b].to_list(),
                    orientation="h",
                    name=t(f"plan.bucket.{b}"), marker_color=colour)
    fig.update_layout(title=title, barmode="stack", height=max(260, 26 * top.height + 110),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.1})
    return fig
