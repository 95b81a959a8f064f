"""Act on a segment or list: download it (formula-safe CSV) or create follow-up tasks for the owners."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from crm_core import value, value_actions
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.value_segments import CHURN_STATES, SEGMENTS
from ui.i18n import t
from ui.session import cached, run_write


def _keys(kind: str, ov: dict[str, Any]) -> list[Any]:
    if kind == "tier":
        return ["A", "B", "C", "D"]
    if kind == "abc":
        return ["A", "B", "C"]
    if kind == "segment":
        return list(SEGMENTS)
    if kind == "churn_state":
        return list(CHURN_STATES)
    if kind == "cohort":
        return ov["ltv_cohorts"]["cohort"].to_list()
    return [None]


def _label(kind: str, key: Any) -> str:
    if key is None:
        return t("value.list.whole")
    if kind == "segment":
        return t(f"value.seg.{key}")
    if kind == "churn_state":
        return t(f"value.churn.{key}")
    return str(key)


def panel(db: Database, actor: Actor, flt: PipelineFilter, as_of: date, metric: str, grain: str,
          ov: dict[str, Any]) -> None:
    c1, c2 = st.columns(2)
    kind = c1.selectbox(t("value.list.kind"), value.LIST_KINDS, format_func=lambda k: t(f"value.list.{k}"),
                        key="va_kind")
    key = c2.selectbox(t("value.list.key"), _keys(kind, ov), format_func=lambda k: _label(kind, k), key="va_key")
    members = cached(value.action_list, db, actor, flt, as_of, metric, kind, key, grain)
    st.markdown(t("value.list.count", n=members.height))
    shown = members.head(200)
    st.dataframe(shown.rename({c: t(f"value.col.{c}") for c in shown.columns}), hide_index=True, key="va_members",
                 height=240)
    # a callable: the CSV is built only when the user clicks, not on every rerun
    st.download_button(t("download_csv"), lambda: value_actions.to_csv(members), file_name=f"value_{kind}.csv",
                       mime="text/csv", key="va_download", disabled=members.height == 0)

    st.subheader(t("value.tasks.header"))
    if not actor.can_edit_pipeline:
        st.info(t("value.tasks.readonly"))
    else:
        with st.form("va_tasks_form"):
            subject = st.text_input(t("value.tasks.subject"), value=t("value.tasks.default_subject"),
                                    key="va_subject")
            due = st.date_input(t("value.tasks.due"), value=date.today() + timedelta(days=7), key="va_due")
            go = st.form_submit_button(t("value.tasks.create", n=members.height), disabled=members.height == 0)
        if go:
            ids = members["account_id"].to_list()
            done = run_write(lambda: value_actions.create_followup_tasks(db, actor, ids, subject=subject,
                                                                         due_date=due))
            if done is not None:
                st.success(t("value.tasks.created", created=done["created"], skipped=done["skipped"]))
    tasks = cached(value_actions.open_tasks, db, actor)
    st.subheader(t("value.tasks.open", n=tasks["total"][0] if tasks.height else 0))
    if tasks.height:
        shown = tasks.drop("account_id", "total")
        st.dataframe(shown.rename({c: t(f"value.col.{c}") for c in shown.columns}),
                     hide_index=True, key="va_open_tasks", height=240)
    else:
        st.info(t("value.tasks.none"))
