"""Entry form for a follow-up (call, e-mail, visit, meeting, note) with the date of the next one."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from crm_core import activities, contacts, opportunities
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import account_picker, done, frame, options
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.activity.header"))
    account_id = account_picker(db, actor, "pl_act_account")
    if account_id is None:
        return
    people = options(cached(contacts.list_for_account, db, actor, account_id))
    deal_names = options(cached(opportunities.open_for_account, db, actor, account_id))
    with st.form("pl_activity_form"):
        c1, c2 = st.columns(2)
        kind = c1.selectbox(t("pipeline.activity.kind"), list(activities.KINDS), key="pl_act_kind",
                            format_func=lambda k: t(f"pipeline.kind.{k}"))
        subject = c2.text_input(t("pipeline.activity.subject"), key="pl_act_subject")
        contact = c1.selectbox(t("pipeline.activity.contact"), [None, *people], key="pl_act_contact",
                               format_func=lambda i: "—" if i is None else people[i])
        deal = c2.selectbox(t("pipeline.activity.deal"), [None, *deal_names], key="pl_act_deal",
                            format_func=lambda i: "—" if i is None else deal_names[i])
        details = st.text_area(t("pipeline.activity.details"), key="pl_act_details")
        c1, c2 = st.columns(2)
        next_due = c1.date_input(t("pipeline.activity.next_due"), value=None, key="pl_act_next")
        next_subject = c2.text_input(t("pipeline.activity.next_subject"), key="pl_act_next_subject")
        submitted = st.form_submit_button(t("pipeline.activity.save"))
    if submitted:
        new_id = run_write(lambda: activities.log(
            db, actor, kind=kind, subject=subject, account_id=account_id, opportunity_id=deal, contact_id=contact,
            details=details, occurred_at=datetime.now().replace(microsecond=0), next_due=next_due,
            next_subject=next_subject))
        if new_id is not None:
            done(t("pipeline.activity.created"),
                 clear=("pl_act_subject", "pl_act_details", "pl_act_next", "pl_act_next_subject", "pl_act_deal"))
    frame(cached(activities.recent, db, actor, account_id=account_id, limit=20), t("pipeline.none"))

