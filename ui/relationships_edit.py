"""The relationship page's forms: account links, superior unit, reports-to lines,
and a deal's contact roles and stance. Each form calls one crm_core write
through `run_write`, so a refusal shows as a message, never a traceback."""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import graph, links
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.session import cached, run_write


def _account_label(row: dict) -> str:
    owner = row.get("owner") or t("rel.pool")
    return f"{row['name']} (#{row['id']}, {owner})"


def account_picker(db: Database, actor: Actor, label: str, key: str, *, any_owner: bool = False,
                   preselect: int | None = None) -> int | None:
    """A search box and a list of matching accounts; returns the chosen id."""
    text = st.text_input(label, key=f"{key}_q", placeholder=t("rel.search_hint"))
    found = cached(graph.find_accounts, db, actor, text, any_owner=any_owner)
    rows = {r["id"]: r for r in found.to_dicts()}
    if text:
        preselect = None  # a search replaces the account given in the address
    if preselect is not None and preselect not in rows:
        for r in cached(graph.find_accounts, db, actor, str(preselect), any_owner=any_owner).to_dicts():
            rows[r["id"]] = r
    if not rows:
        st.info(t("rel.no_match"))
        return None
    ids = list(rows)
    index = ids.index(preselect) if preselect in rows else 0
    return st.selectbox(t("rel.account"), ids, index=index, format_func=lambda i: _account_label(rows[i]),
                        key=f"{key}_pick")


def links_form(db: Database, actor: Actor, account_id: int, group: graph.AccountGroup) -> None:
    """Add a typed link from the picked account, or remove one of its links."""
    names = dict(zip(group.nodes["id"].to_list(), group.nodes["name"].to_list()))
    with st.expander(t("rel.add_link"), expanded=False):
        kind = st.selectbox(t("rel.link_kind"), graph.LINK_KINDS, format_func=lambda k: t(f"rel.kind.{k}"),
                            key="rel_link_kind")
        target = account_picker(db, actor, t("rel.link_target"), "rel_link_target", any_owner=True)
        note = st.text_input(t("rel.note"), key="rel_link_note")
        if st.button(t("rel.add_link"), key="rel_link_add", disabled=target is None):
            run_write(lambda: links.add_link(db, actor, account_id, target, kind, note or None),
                      success=t("rel.saved"))
    own = group.edges.filter(pl.col("link_id").is_not_null()
                             & ((pl.col("from_id") == account_id) | (pl.col("to_id") == account_id)))
    if own.height:
        with st.expander(t("rel.remove_link"), expanded=False):
            options = own.to_dicts()
            choice = st.selectbox(
                t("rel.link"), range(len(options)), key="rel_link_del",
                format_func=lambda i: (f"{names.get(options[i]['from_id'], options[i]['from_id'])} "
                                       f"{t('rel.kind.' + options[i]['kind'])} "
                                       f"{names.get(options[i]['to_id'], options[i]['to_id'])}"))
            if st.button(t("rel.remove_link"), key="rel_link_del_btn"):
                run_write(lambda: links.delete_link(db, actor, options[choice]["link_id"]),
                          success=t("rel.saved"))


def reports_to_form(db: Database, actor: Actor, chart: graph.ContactGraph) -> None:
    """Change whom a contact reports to (a colleague of the same account, or nobody)."""
    n = chart.nodes
    if n.height == 0:
        return
    names = dict(zip(n["id"].to_list(), n["name"].to_list()))
    versions = dict(zip(n["id"].to_list(), n["version"].to_list()))
    current = dict(zip(n["id"].to_list(), n["reports_to_id"].to_list()))
    with st.expander(t("rel.edit_reports_to"), expanded=False):
        who = st.selectbox(t("rel.contact"), list(names), format_func=lambda i: f"{names[i]} (#{i})",
                           key="rel_rt_who")
        bosses = [None, *[i for i in names if i != who]]
        boss = st.selectbox(t("rel.reports_to"), bosses, key="rel_rt_boss",
                            index=bosses.index(current.get(who)) if current.get(who) in bosses else 0,
                            format_func=lambda i: t("rel.nobody") if i is None else f"{names[i]} (#{i})")
        if st.button(t("rel.save"), key="rel_rt_save"):
            run_write(lambda: links.set_reports_to(db, actor, who, boss, versions[who]), success=t("rel.saved"))


def deal_roles_editor(db: Database, actor: Actor, opportunity_id: int, tree: graph.ContactGraph,
                      account_contacts: pl.DataFrame) -> None:
    """Edit the roles, stance and notes of the deal's contacts; add a contact to the deal."""
    on = tree.nodes.filter(pl.col("on_deal")).select(
        "id", "name", "title", "role", pl.col("deal_stance").alias("stance"), "note", "role_version")
    if on.height:
        edited = st.data_editor(
            on.to_pandas(), hide_index=True, key=f"rel_roles_{opportunity_id}",
            column_order=["name", "title", "role", "stance", "note"],
            disabled=["id", "name", "title", "role_version"],
            column_config={
                "name": st.column_config.TextColumn(t("rel.col.name")),
                "title": st.column_config.TextColumn(t("rel.col.title")),
                "role": st.column_config.SelectboxColumn(t("rel.col.role"), options=list(graph.DECISION_ROLES),
                                                         required=True,
                                                         format_func=lambda r: t(f"rel.role.{r}")),
                "stance": st.column_config.SelectboxColumn(t("rel.col.stance"), options=list(graph.STANCES),
                                                           required=True,
                                                           format_func=lambda s: t(f"rel.stance.{s}")),
                "note": st.column_config.TextColumn(t("rel.note")),
            },
        )
        if st.button(t("rel.save_roles"), key="rel_roles_save"):
            before = {r["id"]: r for r in on.to_dicts()}
            changed = 0
            for row in edited.to_dict("records"):
                old = before[row["id"]]
                if (row["role"], row["stance"], row["note"] or None) == (old["role"], old["stance"], old["note"]):
                    continue
                done = run_write(lambda row=row, old=old: links.set_deal_contact(
                    db, actor, opportunity_id, int(row["id"]), int(old["role_version"]), role=row["role"],
                    stance=row["stance"], note=row["note"] or ""))
                if done is None:
                    return
                changed += 1
            st.toast(t("rel.roles_saved", n=changed))
    else:
        st.info(t("rel.no_deal_contacts"))
    candidates = account_contacts.filter(~pl.col("id").is_in(on["id"].to_list()))
    if candidates.height:
        with st.expander(t("rel.add_deal_contact"), expanded=False):
            cnames = dict(zip(candidates["id"].to_list(), candidates["name"].to_list()))
            cid = st.selectbox(t("rel.contact"), list(cnames), format_func=lambda i: f"{cnames[i]} (#{i})",
                               key="rel_add_dc")
            role = st.selectbox(t("rel.col.role"), graph.DECISION_ROLES, format_func=lambda r: t(f"rel.role.{r}"),
                                key="rel_add_dc_role")
            stance = st.selectbox(t("rel.col.stance"), graph.STANCES, format_func=lambda s: t(f"rel.stance.{s}"),
                                  index=graph.STANCES.index("unknown"), key="rel_add_dc_stance")
            if st.button(t("rel.add_deal_contact"), key="rel_add_dc_btn"):
                run_write(lambda: links.add_deal_contact(db, actor, opportunity_id, cid, role, stance),
                          success=t("rel.saved"))
