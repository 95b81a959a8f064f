"""Entry forms for an account (with its parent unit) and a contact (with whom they report to)."""

from __future__ import annotations

import streamlit as st

from crm_core import accounts, contacts
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import account_picker, done, options
from ui.session import cached, run_write


def account_fields(db: Database, actor: Actor, prefix: str) -> dict:
    """The account inputs (inside a form); returns the values keyed as crm_core.accounts expects."""
    values = cached(accounts.field_values, db, actor)
    c1, c2 = st.columns(2)
    out = {
        "name": c1.text_input(t("pipeline.account.name"), key=f"{prefix}_name"),
        "tax_id": c2.text_input(t("pipeline.account.tax_id"), key=f"{prefix}_tax"),
        "phone": c1.text_input(t("pipeline.account.phone"), key=f"{prefix}_phone"),
        "industry": c2.selectbox(t("pipeline.account.industry"), [None, *values["industry"]], key=f"{prefix}_ind",
                                 format_func=lambda v: v or "—"),
        "region": c1.selectbox(t("pipeline.account.region"), [None, *values["region"]], key=f"{prefix}_reg",
                               format_func=lambda v: v or "—"),
        "city": c2.text_input(t("pipeline.account.city"), key=f"{prefix}_city"),
        "source": c1.selectbox(t("pipeline.account.source"), [None, *values["source"]], key=f"{prefix}_src",
                               format_func=lambda v: v or "—"),
    }
    return out


def render_account(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.account.header"))
    parents = options(cached(accounts.choices, db, actor))
    with st.form("pl_account_form"):
        fields = account_fields(db, actor, "pl_acc")
        parent = st.selectbox(t("pipeline.account.parent"), [None, *parents], key="pl_acc_parent",
                              format_func=lambda i: "—" if i is None else parents.get(i, str(i)))
        submitted = st.form_submit_button(t("pipeline.account.save"))
    if submitted:
        new_id = run_write(lambda: accounts.create(db, actor, parent_id=parent, **fields))
        if new_id is not None:
            done(t("pipeline.account.created", name=fields["name"], id=new_id),
                 clear=tuple(k for k in st.session_state if str(k).startswith("pl_acc_")))


def render_contact(db: Database, actor: Actor) -> None:
    st.subheader(t("pipeline.contact.header"))
    account_id = account_picker(db, actor, "pl_con_account")
    if account_id is None:
        return
    people = cached(contacts.list_for_account, db, actor, account_id)
    bosses = options(people)
    with st.form("pl_contact_form"):
        c1, c2 = st.columns(2)
        name = c1.text_input(t("pipeline.contact.name"), key="pl_con_name")
        title = c2.text_input(t("pipeline.contact.title"), key="pl_con_title")
        email = c1.text_input(t("pipeline.contact.email"), key="pl_con_email")
        phone = c2.text_input(t("pipeline.contact.phone"), key="pl_con_phone")
        reports_to = c1.selectbox(t("pipeline.contact.reports_to"), [None, *bosses], key="pl_con_boss",
                                  format_func=lambda i: "—" if i is None else bosses.get(i, str(i)))
        influence = c2.slider(t("pipeline.contact.influence"), 1, 5, 3, key="pl_con_infl")
        submitted = st.form_submit_button(t("pipeline.contact.save"))
    if submitted:
        new_id = run_write(lambda: contacts.create(db, actor, account_id=account_id, name=name, title=title,
                                                   email=email, phone=phone, reports_to_id=reports_to,
                                                   influence=influence))
        if new_id is not None:
            done(t("pipeline.contact.created", name=name),
                 clear=("pl_con_name", "pl_con_title", "pl_con_email", "pl_con_phone", "pl_con_boss"))
    if people.height:
        st.dataframe(people.drop("version"), hide_index=True, width="stretch")
