"""The reminders tab: overdue follow-ups, accounts about to return to the pool, payments
due, deals past their expected close or idle in their stage; plus the lifecycle rules."""

from __future__ import annotations

import streamlit as st

from crm_core import activities, lifecycle, reminders
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import done, frame
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    # the most urgent reminders.SHOWN_ROWS rows of each list, and each list's full count
    lists = cached(reminders.all_reminders, db, actor)
    cols = st.columns(len(reminders.KINDS))
    for col, kind in zip(cols, reminders.KINDS):
        col.metric(t(f"pipeline.rem.{kind}"), f"{lists.counts[kind]:,}")
    for kind in reminders.KINDS:
        st.subheader(t(f"pipeline.rem.{kind}"))
        st.caption(t(f"pipeline.rem.{kind}.help"))
        rows = lists[kind]
        if lists.counts[kind] > rows.height:
            st.caption(t("pipeline.rem.first_rows", shown=rows.height, total=lists.counts[kind]))
        frame(rows, t("pipeline.none"))
        if kind == "overdue_followups" and rows.height:
            _complete_task(db, actor, rows)

    st.subheader(t("pipeline.lifecycle.header"))
    days = lifecycle.rule_days(db)
    st.markdown("\n".join(f"- {t(f'pipeline.lifecycle.rule.{stage}', **days)}" for stage in lifecycle.STAGES))
    frame(cached(lifecycle.counts, db, actor), t("pipeline.none"))


def _complete_task(db: Database, actor: Actor, tasks) -> None:
    """Mark one overdue task done (it then counts as a follow-up)."""
    labels = dict(zip(tasks["id"].to_list(), tasks["subject"].to_list()))
    versions = dict(zip(tasks["id"].to_list(), tasks["version"].to_list()))
    with st.form("pl_task_done"):
        pick = st.selectbox(t("pipeline.rem.task"), list(labels), format_func=labels.get, key="pl_task_pick")
        if st.form_submit_button(t("pipeline.rem.done")):
            if run_write(lambda: activities.complete_task(db, actor, pick, versions[pick])) is not None:
                done(t("pipeline.saved"))
