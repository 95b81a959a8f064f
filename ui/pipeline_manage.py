"""Managers' tab: merge duplicate accounts, hand over a departing rep's book, apply lifecycle rules."""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import accounts, handover, lifecycle, lookups
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import frame, options
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    _merge(db, actor)
    _handover(db, actor)
    st.subheader(t("pipeline.lifecycle.apply_header"))
    if st.button(t("pipeline.lifecycle.apply"), key="pl_lifecycle"):
        moved = run_write(lambda: lifecycle.update_all(db, actor))
        if moved is not None:
            st.success(t("pipeline.lifecycle.applied", n=sum(moved.values())))


def _merge(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.merge.header"))
    pairs = cached(accounts.duplicate_candidates, db, actor)
    frame(pairs, t("pipeline.merge.none"))
    visible = options(cached(accounts.list_accounts, db, actor, limit=5000))
    with st.form("pl_merge_form"):
        survivor = st.selectbox(t("pipeline.merge.survivor"), list(visible), format_func=visible.get,
                                key="pl_merge_keep", index=None)
        dups = st.multiselect(t("pipeline.merge.duplicates"), list(visible), format_func=visible.get,
                              key="pl_merge_dups")
        if st.form_submit_button(t("pipeline.merge.save")):
            if survivor is None:
                st.error(t("pipeline.merge.pick_survivor"))
            else:
                moved = run_write(lambda: accounts.merge(db, actor, survivor, dups))
                if moved is not None:
                    st.success(t("pipeline.merge.done", n=sum(moved.values())))


def _handover(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.handover.header"))
    leaving = cached(handover.departing_reps, db, actor)
    frame(leaving, t("pipeline.handover.none"))
    users = lookups.users(db).filter(pl.col("role").is_in(["rep", "manager"]))
    ids = set(actor.team_ids) if actor.role == "manager" else set(users["id"].to_list())
    users = users.filter(pl.col("id").is_in(list(ids)))
    everyone = options(users, label_col="display_name")
    active = options(users.filter(pl.col("active")), label_col="display_name")
    default = leaving["id"].to_list()[:1]
    with st.form("pl_handover_form"):
        src = st.selectbox(t("pipeline.handover.from"), list(everyone), format_func=everyone.get, key="pl_ho_from",
                           index=list(everyone).index(default[0]) if default and default[0] in everyone else None)
        dst = st.multiselect(t("pipeline.handover.to"), list(active), format_func=active.get, key="pl_ho_to")
        if st.form_submit_button(t("pipeline.handover.save")):
            if src is None:
                st.error(t("pipeline.handover.pick_from"))
            else:
                moved = run_write(lambda: handover.hand_over(db, actor, src, dst))
                if moved is not None:
                    st.success(t("pipeline.handover.done", **moved))
