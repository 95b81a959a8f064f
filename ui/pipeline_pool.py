"""The public pool tab: claim, release with a reason, mine returning soon, rule assignment."""

from __future__ import annotations

from datetime import date

import streamlit as st

from crm_core import accounts, pool, settings
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import done as flash
from ui.pipeline_common import frame, options
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    limit = settings.get(db, "pool.daily_claim_limit")
    used = pool.claims_on(db, actor.id, date.today())
    c1, c2, c3 = st.columns(3)
    c1.metric(t("pipeline.pool.claims_today"), f"{used} / {limit}")
    c2.metric(t("pipeline.pool.return_after"), t("pipeline.days", n=settings.get(db, "pool.return_after_days")))
    c3.metric(t("pipeline.pool.cooldown"), t("pipeline.days", n=settings.get(db, "pool.reclaim_cooldown_days")))

    st.subheader(t("pipeline.pool.returning"))
    frame(cached(pool.returning_soon, db, actor), t("pipeline.pool.none_returning"))

    st.subheader(t("pipeline.pool.header"))
    search = st.text_input(t("pipeline.pool.search"), key="pl_pool_search")
    waiting = cached(pool.list_pool, db, actor, search=search or None)
    frame(waiting, t("pipeline.pool.empty"))
    if waiting.height and actor.role in ("rep", "manager"):
        labels = options(waiting)
        with st.form("pl_claim_form"):
            pick = st.selectbox(t("pipeline.pool.pick"), list(labels), format_func=labels.get, key="pl_pool_pick")
            if st.form_submit_button(t("pipeline.pool.claim")):
                done = run_write(lambda: pool.claim(db, actor, pick))
                if done is not None:
                    flash(t("pipeline.pool.claimed", name=labels[pick], left=done["claims_left"]))

    mine = options(cached(accounts.choices, db, actor))
    if mine:
        st.subheader(t("pipeline.pool.release_header"))
        with st.form("pl_release_form"):
            pick = st.selectbox(t("pipeline.account"), list(mine), format_func=mine.get, key="pl_rel_pick")
            reason = st.text_input(t("pipeline.pool.reason"), key="pl_rel_reason")
            if st.form_submit_button(t("pipeline.pool.release")):
                if run_write(lambda: pool.release(db, actor, pick, reason)) is not None:
                    flash(t("pipeline.pool.released", name=mine[pick]), clear=("pl_rel_reason",))

    if actor.is_manager_or_admin:
        st.subheader(t("pipeline.pool.assign_header"))
        rules = settings.get(db, "pool.assignment_rules") or []
        st.caption(t("pipeline.pool.assign_help", n=len(rules)))
        if st.button(t("pipeline.pool.assign"), key="pl_assign"):
            done = run_write(lambda: pool.assign(db, actor))
            if done is not None:
                st.success(t("pipeline.pool.assigned", n=len(done)))
                if done:
                    st.dataframe(done, hide_index=True)
