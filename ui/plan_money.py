"""The Money collected tab: headline figures, receivables ageing by rep or
customer, the overdue list (what the payment reminders use), and contracts of
the period against what was received."""

from __future__ import annotations

from datetime import date

import streamlit as st

from crm_core import receivables
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.periods import Period
from ui import plan_charts
from ui.i18n import t
from ui.session import cached

OVERDUE_ROWS = 500  # the oldest ones; the reminders read the full list from crm_core
AGEING_ROWS = 200   # the most overdue reps or customers; `crm report receivables` lists all


def render(db: Database, actor: Actor, period: Period, today: date) -> None:
    summary = cached(receivables.collected_summary, db, actor, period.start, period.last_day, today=today)
    cols = st.columns(4)
    for col, key in zip(cols, ("booked", "collected", "outstanding", "overdue")):
        col.metric(t(f"plan.money.{key}"), f"{summary.get(key, 0):,.2f}")
    by = st.segmented_control(t("plan.money.ageing_by"), ["owner", "account"], default="owner",
                              format_func=lambda b: t(f"plan.dim.{b}"), key="plan_ageing_by") or "owner"
    aged = cached(receivables.ageing, db, actor, by=by, today=today, limit=AGEING_ROWS)
    if aged.height:
        st.plotly_chart(plan_charts.ageing(aged, receivables.BUCKETS, t("plan.money.ageing_by") + " "
                                           + t(f"plan.dim.{by}")), key="plan_ageing_chart")
    st.dataframe(aged.drop("by", "member_id"), hide_index=True, column_config={
        "member": t(f"plan.dim.{by}"), **{b: st.column_config.NumberColumn(t(f"plan.bucket.{b}"), format="%.2f")
                                         for b in receivables.BUCKETS},
        "outstanding": st.column_config.NumberColumn(t("plan.money.outstanding"), format="%.2f"),
        "overdue": st.column_config.NumberColumn(t("plan.money.overdue"), format="%.2f"),
    }, key="plan_ageing_table")
    st.subheader(t("plan.money.overdue_list"))
    late = cached(receivables.overdue, db, actor, today=today, limit=OVERDUE_ROWS)
    st.dataframe(late.select("contract_no", "account", "owner", "due_date", "outstanding", "days_overdue"),
                 hide_index=True, column_config={
                     "contract_no": t("plan.col.contract"), "account": t("plan.col.account"),
                     "owner": t("plan.col.owner"),
                     "due_date": st.column_config.DateColumn(t("plan.col.due_date"), format="YYYY-MM-DD"),
                     "outstanding": st.column_config.NumberColumn(t("plan.col.outstanding"), format="%.2f"),
                     "days_overdue": t("plan.col.days_overdue")}, key="plan_overdue")
    st.subheader(t("plan.money.contracts", period=period.label))
    signed = cached(receivables.contracts_vs_payments, db, actor, period.start, period.last_day, today=today)
    st.dataframe(signed.select("contract_no", "account", "owner", "signed_date", "amount", "paid", "paid_pct"),
                 hide_index=True, column_config={
                     "contract_no": t("plan.col.contract"), "account": t("plan.col.account"),
                     "owner": t("plan.col.owner"),
                     "signed_date": st.column_config.DateColumn(t("plan.col.signed"), format="YYYY-MM-DD"),
                     "amount": st.column_config.NumberColumn(t("plan.col.amount"), format="%.2f"),
                     "paid": st.column_config.NumberColumn(t("plan.col.paid"), format="%.2f"),
                     "paid_pct": st.column_config.NumberColumn(t("plan.col.paid_pct"), format="%.1f")},
                 key="plan_contracts")
