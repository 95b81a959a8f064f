"""Entry form for an opportunity: account (pick or create), stage, amount, close date,
product, the contacts involved with their decision roles, and team members."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import streamlit as st

from crm_core import contacts, lookups, opportunities
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_account_form import account_fields
from ui.pipeline_common import account_picker, done, options
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.deal.header"))
    account_id = account_picker(db, actor, "pl_deal_account", allow_new=True)
    if account_id is None:
        return
    stages = lookups.stages(db).filter(~pl.col("is_won") & ~pl.col("is_lost"))
    stage_names = options(stages)
    products = options(cached(lookups.filter_options, db, actor)["products"])
    users = lookups.users(db).filter(pl.col("active") & pl.col("role").is_in(["rep", "manager"]))
    user_names = {i: n for i, n in options(users, label_col="display_name").items() if i != actor.id}
    people = options(cached(contacts.list_for_account, db, actor, account_id)) if account_id != -1 else {}
    chosen: list[int] = []
    if people:
        # Outside the form so that picking people draws a decision-role box for each at once.
        st.caption(t("pipeline.deal.contacts_help"))
        chosen = st.multiselect(t("pipeline.deal.contacts"), list(people), format_func=people.get,
                                key=f"pl_deal_contacts_{account_id}")
    with st.form("pl_deal_form"):
        new_account = None
        if account_id == -1:
            st.caption(t("pipeline.deal.new_account_help"))
            new_account = account_fields(db, actor, "pl_deal_acc")
        c1, c2 = st.columns(2)
        name = c1.text_input(t("pipeline.deal.name"), key="pl_deal_name")
        stage_id = c2.selectbox(t("pipeline.col.stage"), list(stage_names), format_func=stage_names.get,
                                key="pl_deal_stage")
        amount = c1.number_input(t("pipeline.col.amount"), min_value=0.0, step=1000.0, key="pl_deal_amount")
        close = c2.date_input(t("pipeline.col.expected_close"), value=date.today() + timedelta(days=60),
                              key="pl_deal_close")
        product = c1.selectbox(t("pipeline.deal.product"), [None, *products], key="pl_deal_product",
                               format_func=lambda i: "—" if i is None else products[i])
        probability = c2.number_input(t("pipeline.deal.probability"), min_value=0.0, max_value=1.0, value=None,
                                      step=0.05, key="pl_deal_prob")
        roles = {}
        if people:
            for cid in chosen:
                roles[cid] = st.selectbox(t("pipeline.deal.role_of", name=people[cid]),
                                          list(opportunities.DECISION_ROLES), key=f"pl_deal_role_{cid}",
                                          format_func=lambda r: t(f"pipeline.role.{r}"))
        team = st.multiselect(t("pipeline.deal.team"), list(user_names), format_func=user_names.get,
                              key="pl_deal_team")
        submitted = st.form_submit_button(t("pipeline.deal.save"))
    if submitted:
        new_id = run_write(lambda: opportunities.create(
            db, actor, name=name, stage_id=stage_id, amount=amount, expected_close=close, product_id=product,
            probability=probability, account_id=None if account_id == -1 else account_id, new_account=new_account,
            contacts=list(roles.items()), team=[(u, "support") for u in team]))
        if new_id is not None:
            done(t("pipeline.deal.created", name=name),
                 clear=tuple(k for k in st.session_state if str(k).startswith("pl_deal_") and k != "pl_deal_account"))
