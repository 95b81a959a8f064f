"""The accounts tab: my accounts (search), and one account's edit form, contacts and pool history.

The edit form carries the version loaded with the account, so a change made on
a copy someone else has changed since is refused with the current values.
"""

from __future__ import annotations

import streamlit as st

from crm_core import accounts, contacts, pool
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.pipeline_common import done, frame, options
from ui.session import cached, run_write


def render(db: Database, actor: Actor) -> None:
    search = st.text_input(t("pipeline.accounts.search"), key="pl_accts_search")
    listed = cached(accounts.list_accounts, db, actor, search=search or None)
    frame(listed, t("pipeline.none"))
    labels = options(listed)
    if not labels:
        return
    account_id = st.selectbox(t("pipeline.accounts.pick"), list(labels), format_func=labels.get, key="pl_accts_pick")
    row = cached(accounts.get, db, actor, account_id)
    if actor.can_edit_pipeline:
        _edit_form(db, actor, row)
    st.caption(t("pipeline.accounts.lifecycle", stage=row["lifecycle"]))
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{t('pipeline.detail.contacts')}**")
        frame(cached(contacts.list_for_account, db, actor, account_id), t("pipeline.none"))
    with c2:
        st.markdown(f"**{t('pipeline.accounts.pool_history')}**")
        frame(cached(pool.history, db, actor, account_id), t("pipeline.none"))


def _edit_form(db: Database, actor: Actor, row: dict) -> None:
    """The account's fields, saved with the version they were loaded at."""
    account_id = row["id"]
    parents = {i: n for i, n in options(cached(accounts.choices, db, actor)).items() if i != account_id}
    with st.form(f"pl_account_edit_{account_id}"):
        c1, c2 = st.columns(2)
        values = {
            "name": c1.text_input(t("pipeline.account.name"), value=row["name"]),
            "tax_id": c2.text_input(t("pipeline.account.tax_id"), value=row["tax_id"] or ""),
            "phone": c1.text_input(t("pipeline.account.phone"), value=row["phone"] or ""),
            "industry": c2.text_input(t("pipeline.account.industry"), value=row["industry"] or ""),
            "region": c1.text_input(t("pipeline.account.region"), value=row["region"] or ""),
            "city": c2.text_input(t("pipeline.account.city"), value=row["city"] or ""),
        }
        choices = [None, *parents]
        values["parent_id"] = st.selectbox(
            t("pipeline.account.parent"), choices, format_func=lambda i: "—" if i is None else parents.get(i, str(i)),
            index=choices.index(row["parent_id"]) if row["parent_id"] in choices else 0)
        submitted = st.form_submit_button(t("pipeline.accounts.save"))
    if submitted:
        changes = {k: v for k, v in values.items() if (v or None) != (row.get(k) or None)}
        if run_write(lambda: accounts.update(db, actor, account_id, row["version"], changes)) is not None:
            done(t("pipeline.saved"))
