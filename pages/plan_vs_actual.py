"""Plan vs actual: targets on any dimension against live won, ordered and collected money.

Storyboard: pick the period, metric and dimension; see the headline, actual
against target per member (click a bar to drill into the deals), the
cumulative line against the plan, the leaderboard; the roll-up rep ->
department -> company; edit or import targets; money collected and receivables.
"""

from datetime import date

import polars as pl
import streamlit as st

from crm_core import periods, plans
from ui import plan_charts, plan_money, plan_targets
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
today = date.today()
fy_start = periods.fiscal_year_start_month(db)
st.title(t("plan.title"))
st.caption(t("plan.caption", month=fy_start, today=today.isoformat()))
flt = sidebar_filters(db, actor, period=False)

c1, c2, c3, c4 = st.columns(4)
grain = c1.selectbox(t("plan.grain"), periods.GRAINS, index=1, format_func=lambda g: t(f"plan.grain.{g}"),
                     key="plan_grain")
choices = periods.around(today, grain, fy_start)
period = c2.selectbox(t("plan.period"), choices, index=choices.index(periods.containing(today, grain, fy_start)),
                      format_func=lambda p: p.label, key=f"plan_period_{grain}")
metric = c3.selectbox(t("plan.metric"), plans.METRICS, format_func=lambda m: t(f"plan.metric.{m}"), key="plan_metric")
by = c4.selectbox(t("plan.by"), plans.DIMENSIONS, format_func=lambda d: t(f"plan.dim.{d}"), key="plan_by")

overview, grid, rollup, money = st.tabs([t("plan.tab.overview"), t("plan.tab.targets"), t("plan.tab.rollup"),
                                         t("plan.tab.money")])

with overview:
    members = cached(plans.by_member, db, actor, by, period, metric, today=today, flt=flt)
    head = plans.headline(db, actor, members, period, metric, today=today, flt=flt)
    k = st.columns(5)
    k[0].metric(t("plan.kpi.target"), "—" if head["target"] is None else f"{head['target']:,.2f}")
    k[1].metric(t("plan.kpi.actual"), f"{head['actual']:,.2f}",
                None if head["gap"] is None else f"{-head['gap']:,.2f}")
    k[2].metric(t("plan.kpi.attainment"), "—" if head["attainment_pct"] is None else f"{head['attainment_pct']:.1f}%")
    k[3].metric(t("plan.kpi.projection"), "—" if head["projection"] is None else f"{head['projection']:,.2f}")
    k[4].metric(t("plan.kpi.coverage"), "—" if head["coverage"] is None else f"{head['coverage']:.2f}×")
    st.progress(min(1.0, head["elapsed_share"]), text=f"{t('plan.kpi.elapsed')}: {head['elapsed_share']:.0%}")
    if head["target"] is None:
        st.caption(t("plan.no_company_target"))

    by_label = t(f"plan.dim.{by}")
    event = st.plotly_chart(plan_charts.bullet(members, t("plan.chart.bullet", by=by_label)), on_select="rerun",
                            selection_mode="points", key="plan_bullet")
    st.caption(t("plan.chart.click"))
    clicked = [p.get("customdata") for p in (event.selection.points if event else []) if p.get("customdata") is not None]

    st.subheader(t("plan.chart.leaderboard"))
    st.dataframe(members.select("rank", "member", "target", "actual", "attainment_pct", "gap", "expected_to_date",
                                "projection", "pipeline", "coverage"), hide_index=True, key="plan_leaderboard",
                 column_config={
                     "rank": t("plan.col.rank"), "member": by_label,
                     **{c: st.column_config.NumberColumn(t(f"plan.col.{n}"), format="%.2f") for c, n in (
                         ("target", "target"), ("actual", "actual"), ("gap", "gap"), ("projection", "projection"),
                         ("pipeline", "pipeline"), ("expected_to_date", "expected"), ("coverage", "coverage"))},
                     "attainment_pct": st.column_config.NumberColumn(t("plan.col.attainment"), format="%.1f")})

    fiscal_year = period.parent("year")
    line = cached(plans.cumulative, db, actor, fiscal_year, metric, today=today, flt=flt)
    st.plotly_chart(plan_charts.cumulative(line, t("plan.chart.cumulative", year=fiscal_year.label)),
                    key="plan_cumulative")

    names = dict(zip(members["member_id"].to_list(), members["member"].to_list()))
    options = [m for m in names if m is not None]
    if options:
        default = clicked[0] if clicked and clicked[0] in options else options[0]
        pick = st.selectbox(t("plan.drill.pick"), options, index=options.index(default), format_func=names.get,
                            key=f"plan_drill_{by}_{len(clicked)}_{default}")
        st.subheader(t("plan.drill.title", member=names[pick], metric=t(f"plan.metric.{metric}"),
                       period=period.label))
        rows = cached(plans.drill, db, actor, metric, period, **{plans.DIM_COLUMNS[by]: pick})
        if rows.height == 0:
            st.info(t("plan.drill.none"))
        else:
            if rows.height >= 1000:
                st.caption(t("plan.drill.capped", n=rows.height))
            st.dataframe(rows.with_columns(pl.col("value").cast(pl.Float64)), hide_index=True, key="plan_drill",
                         column_config={"kind": t("plan.col.kind"), "account": t("plan.col.account"),
                                        "owner": t("plan.col.owner"), "department": t("plan.col.department"),
                                        "region": t("plan.col.region"), "product": t("plan.col.product"),
                                        "day": t("plan.col.day"),
                                        "value": st.column_config.NumberColumn(t("plan.col.value"), format="%.2f")})

with grid:
    plan_targets.render(db, actor, period, today)

with rollup:
    tree = cached(plans.rollup, db, actor, period, metric, today=today)
    st.caption(t("plan.rollup.caption"))
    flagged = int(tree["mismatch"].sum())
    if flagged:
        st.warning(t("plan.rollup.mismatch", n=flagged))
    shown = tree.with_columns(
        level=pl.col("level").replace_strict({lv: t(f"plan.level.{lv}") for lv in ("company", "department", "rep")}),
        name=pl.when(pl.col("level") == "rep").then(pl.lit("    ") + pl.col("name"))
        .when(pl.col("level") == "department").then(pl.lit("  ") + pl.col("name"))
        .otherwise(pl.lit(t("plan.level.company"))),
        mismatch=pl.when(pl.col("mismatch")).then(pl.lit("⚠")).otherwise(pl.lit("")),
    ).select("level", "name", "target", "children_target", "mismatch", "actual", "attainment_pct", "gap",
             "projection")
    st.dataframe(shown, hide_index=True, key="plan_rollup", column_config={
        "level": t("plan.col.level"), "name": t("plan.col.name"), "mismatch": t("plan.col.mismatch"),
        **{c: st.column_config.NumberColumn(t(f"plan.col.{n}"), format="%.2f") for c, n in (
            ("target", "target"), ("children_target", "children"), ("actual", "actual"), ("gap", "gap"),
            ("projection", "projection"))},
        "attainment_pct": st.column_config.NumberColumn(t("plan.col.attainment"), format="%.1f")})

with money:
    plan_money.render(db, actor, period, today)
