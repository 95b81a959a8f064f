"""The value page's tabs: tables and plotly charts of what crm_core.value computed."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from crm_core import value_cross_sell, value_scoring
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.value_segments import SEGMENTS
from ui.i18n import t
from ui.session import cached

TIER_COLOURS = {"A": "#1b7f3b", "B": "#5aa469", "C": "#e0a030", "D": "#c0504d"}


def headline(ov: dict[str, Any]) -> None:
    c = st.columns([1, 1, 1, 2])
    c[0].metric(t("value.customers"), f"{ov['customers']:,}")
    c[1].metric(t("value.revenue"), f"{ov['revenue']:,.0f}")
    c[2].metric(t("value.share_80"), f"{ov['share_80']:.1%}")
    if ov["ranking"].height:
        top = ov["ranking"].row(0, named=True)
        c[3].metric(t("value.top_customer"), top["name"], t("value.top_score", score=top["score"]),
                    delta_color="off")
    if ov["customers"] == 0:
        st.info(t("no_data"))


def _md_escape(text: str | None) -> str:
    """User text shown inside markdown: every markdown/HTML character taken literally."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&])", r"\\\1", text or "")


def _round(df: pl.DataFrame) -> pl.DataFrame:
    """Figures for reading: money and scores to 2 decimals, shares and ratios to 3."""
    fine = ("share", "support", "confidence", "lift", "ratio")
    return df.with_columns(pl.col(c).round(3 if any(f in c for f in fine) else 2)
                           for c, kind in df.schema.items() if kind == pl.Float64)


def _names(df: pl.DataFrame, column: str, prefix: str) -> pl.DataFrame:
    """Translate code values (segment, churn state) for display."""
    return df.with_columns(pl.col(column).map_elements(lambda v: t(f"{prefix}.{v}"), return_dtype=pl.String))


def ranking_tab(db: Database, actor: Actor, ov: dict[str, Any]) -> None:
    st.caption(t("value.tier_rule"))
    tiers = ov["tiers"]
    if tiers.height:
        st.dataframe(_round(tiers).rename({"tier": t("value.col.tier"), "customers": t("value.customers"),
                                   "revenue": t("value.revenue"), "min_score": t("value.col.min_score"),
                                   "max_score": t("value.col.max_score")}), hide_index=True)
    ranking = ov["ranking"]
    if ranking.height == 0:
        return
    st.subheader(t("value.ranking_header", n=ranking.height))
    view = _names(ranking.select(
        "rank", "name", "owner_name", "tier", "score", *(f"points_{g}" for g in value_scoring.GROUPS),
        "revenue", "gross_profit", "order_days", "last_order", "segment"), "segment", "value.seg")
    st.dataframe(_round(view).rename({c: t(f"value.col.{c}") for c in view.columns}), hide_index=True,
                 key="val_ranking_table", height=360)
    pick = st.selectbox(t("value.pick_customer"), ranking["account_id"].to_list(), key="val_pick",
                        format_func=dict(zip(ranking["account_id"].to_list(), ranking["name"].to_list())).get)
    row = ranking.filter(pl.col("account_id") == pick).row(0, named=True)
    parts = value_scoring.breakdown(row, ov["weights"])
    st.markdown(t("value.breakdown_of", name=_md_escape(row["name"]), score=row["score"], tier=row["tier"]))
    fig = px.bar(parts.with_columns(pl.col("indicator").map_elements(lambda k: t(f"value.ind.{k}"),
                                                                   return_dtype=pl.String)),
                 x="points", y="indicator", color="group", orientation="h",
                 hover_data=["value", "percentile", "weight"])
    fig.update_layout(height=420, yaxis={"categoryorder": "total ascending"}, margin={"l": 10, "r": 10, "t": 10})
    st.plotly_chart(fig, key="val_breakdown_chart")


def pareto_tab(ov: dict[str, Any], metric: str) -> None:
    st.markdown(t("value.pareto_summary", share=ov["share_80"], metric=t(f"value.metric.{metric}")))
    curve = ov["pareto_curve"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curve["customer_share"].to_list(), y=curve["value_share"].to_list(),
                             mode="lines", name=t("value.metric." + metric)))
    fig.add_hline(y=0.8, line_dash="dot")
    fig.add_vline(x=ov["share_80"], line_dash="dot")
    fig.update_layout(xaxis={"title": t("value.customer_share"), "tickformat": ".0%"},
                      yaxis={"title": t("value.value_share"), "tickformat": ".0%"}, height=380,
                      margin={"l": 10, "r": 10, "t": 10})
    st.plotly_chart(fig, key="val_pareto_chart")
    st.caption(t("value.abc_rule"))
    st.dataframe(_round(ov["abc"]).rename({"abc": t("value.col.abc"), "customers": t("value.customers"),
                                   "value": t("value.metric." + metric),
                                   "customer_share": t("value.customer_share"),
                                   "value_share": t("value.value_share")}), hide_index=True)


def rfm_tab(ov: dict[str, Any]) -> None:
    st.caption(t("value.rfm_rule"))
    seg = _names(ov["rfm_segments"], "segment", "value.seg")
    c1, c2 = st.columns([1, 1])
    c1.dataframe(_round(seg).rename({"segment": t("value.col.segment"), "customers": t("value.customers"),
                             "revenue": t("value.revenue"), "revenue_share": t("value.value_share")}),
                 hide_index=True)
    grid = ov["rfm_grid"]
    if grid.height:
        fig = px.density_heatmap(grid, x="f_score", y="r_score", z="customers", histfunc="sum",
                                 nbinsx=5, nbinsy=5, text_auto=True,
                                 labels={"f_score": "F", "r_score": "R", "customers": t("value.customers")})
        fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10})
        c2.plotly_chart(fig, key="val_rfm_chart")
    with st.expander(t("value.rfm_table")):
        st.dataframe(pl.DataFrame({
            t("value.col.segment"): [t(f"value.seg.{s}") for s in SEGMENTS],
            t("value.rule"): [t(f"value.segrule.{s}") for s in SEGMENTS]}), hide_index=True)


def churn_tab(ov: dict[str, Any]) -> None:
    st.caption(t("value.churn_rule"))
    st.dataframe(_round(_names(ov["churn_summary"], "churn_state", "value.churn")).rename(
        {"churn_state": t("value.col.churn_state"), "customers": t("value.customers"),
         "revenue": t("value.revenue")}), hide_index=True)
    risk = ov["churn_list"]
    st.subheader(t("value.churn_list", n=risk.height))
    if risk.height:
        view = _round(_names(risk.drop("account_id"), "churn_state", "value.churn"))
        st.dataframe(view.rename({c: t(f"value.col.{c}") for c in view.columns}), hide_index=True,
                     key="val_churn_table", height=360)


def ltv_tab(ov: dict[str, Any]) -> None:
    st.caption(t("value.ltv_rule", years=value_scoring.PROJECTION_YEARS))
    cohorts = ov["ltv_cohorts"]
    if cohorts.height == 0:
        return
    long = cohorts.select("cohort", "historical_per_customer", "projected_per_customer").unpivot(
        index="cohort", variable_name="kind", value_name="ltv").with_columns(
        pl.col("kind").map_elements(lambda k: t(f"value.ltv.{k}"), return_dtype=pl.String))
    fig = px.bar(long, x="cohort", y="ltv", color="kind", barmode="group",
                 labels={"cohort": t("value.cohort"), "ltv": t("value.ltv_per_customer"), "kind": ""})
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10})
    st.plotly_chart(fig, key="val_ltv_chart")
    st.dataframe(_round(cohorts).rename({c: t(f"value.col.{c}") for c in cohorts.columns}), hide_index=True)


def cross_sell_tab(db: Database, actor: Actor, flt: PipelineFilter, as_of: date, ov: dict[str, Any]) -> None:
    st.caption(t("value.pairs_rule"))
    pairs = cached(value_cross_sell.product_pairs, db, actor, flt)
    st.subheader(t("value.pairs"))
    st.dataframe(_round(pairs.drop("a_id", "b_id")).rename({c: t(f"value.col.{c}") for c in pairs.columns
                                                    if c not in ("a_id", "b_id")}),
                 hide_index=True, key="val_pairs_table", height=280)
    ranking = ov["ranking"]
    if ranking.height:
        st.subheader(t("value.recommend"))
        st.caption(t("value.recommend_rule"))
        names = dict(zip(ranking["account_id"].to_list(), ranking["name"].to_list()))
        pick = st.selectbox(t("value.pick_customer"), list(names), format_func=names.get, key="val_rec_pick")
        rec = cached(value_cross_sell.recommendations, db, actor, pick, flt)
        if rec.height:
            st.dataframe(_round(rec.drop("product_id")).rename({c: t(f"value.col.{c}") for c in rec.columns
                                                        if c != "product_id"}), hide_index=True)
        else:
            st.info(t("value.no_recommendation"))
    st.subheader(t("value.upsell"))
    st.caption(t("value.upsell_rule"))
    up = cached(value_cross_sell.upsell, db, actor, flt)
    st.dataframe(up.drop("account_id").rename({c: t(f"value.col.{c}") for c in up.columns if c != "account_id"}),
                 hide_index=True, key="val_upsell_table", height=280)
    st.subheader(t("value.repeat"))
    st.caption(t("value.repeat_rule"))
    due = cached(value_cross_sell.repeat_due, db, actor, flt, as_of)
    st.dataframe(_round(due.drop("account_id")).rename({c: t(f"value.col.{c}") for c in due.columns
                                                if c != "account_id"}),
                 hide_index=True, key="val_repeat_table", height=280)
