"""Relationships: an account's customer group, its contacts' org chart, and a deal's decision tree."""

import polars as pl
import streamlit as st

from crm_core import graph
from ui import graph_render
from ui.i18n import t
from ui.relationships_edit import account_picker, deal_roles_editor, links_form, reports_to_form
from ui.relationships_view import contacts_vis, group_vis, related_table
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("rel.title"))

preselect = st.query_params.get("account")
account_id = account_picker(db, actor, t("rel.search"), "rel_acct",
                            preselect=int(preselect) if preselect and preselect.isdigit() else None)
if account_id is None:
    st.stop()
view = st.segmented_control(t("rel.view"), ["group", "contacts", "deal"], default="group", required=True,
                            format_func=lambda v: t(f"rel.view.{v}"), key="rel_view")


def show_graph(nodes: pl.DataFrame, edges: pl.DataFrame, *, hierarchical: bool = False) -> None:
    st.iframe(graph_render.render(nodes, edges, hierarchical=hierarchical), height=680)


if view == "group":
    c1, c2, c3, c4 = st.columns(4)
    depth = c1.slider(t("rel.depth"), 0, graph.MAX_DEPTH, 3, key="rel_depth")
    families = c2.multiselect(t("rel.families"), list(graph.FAMILIES), default=list(graph.FAMILIES),
                              format_func=lambda f: t(f"rel.family.{f}"), key="rel_families")
    size_by = c3.radio(t("rel.size_by"), ["revenue", "won"], format_func=lambda v: t(f"rel.size.{v}"),
                       key="rel_size", horizontal=True)
    colour_by = c4.radio(t("rel.colour_by"), ["owner", "lifecycle"], format_func=lambda v: t(f"rel.colour.{v}"),
                         key="rel_colour", horizontal=True)
    group = cached(graph.account_group, db, actor, account_id, depth=depth, families=tuple(families),
                   cap=graph_render.NODE_CAP)
    for warning in group.warnings:
        st.warning(warning)
    if group.left_out:
        st.warning(t("rel.left_out", shown=group.nodes.height, total=group.total, left=group.left_out))
        if depth > 1:
            st.button(t("rel.narrower", depth=depth - 1), key="rel_narrow",
                      on_click=lambda: st.session_state.update(rel_depth=depth - 1))
    m1, m2, m3 = st.columns(3)
    m1.metric(t("rel.units"), f"{group.nodes.height:,}")
    m2.metric(t("rel.other_owned"), f"{int(group.nodes['owned_by_other'].sum()):,}")
    m3.metric(t("rel.won_visible"), f"{float(group.nodes['won_amount'].cast(pl.Float64).sum()):,.0f}")
    nodes, edges = group_vis(group, size_by=size_by, colour_by=colour_by)
    show_graph(nodes, edges)
    st.caption(t("rel.legend"))
    table = related_table(group)
    st.subheader(t("rel.related_units"))
    st.dataframe(table, hide_index=True, width="stretch")
    names = dict(zip(group.nodes["id"].to_list(), group.nodes["name"].to_list()))
    edge_rows = group.edges.with_columns(
        pl.col("from_id").replace_strict(names, default=None).alias("from_name"),
        pl.col("to_id").replace_strict(names, default=None).alias("to_name"),
    ).select("from_id", "from_name", "kind", "to_id", "to_name", "source", "link_id", "note")
    d1, d2 = st.columns(2)
    d1.download_button(t("rel.export_nodes"), graph.to_csv(table), file_name=f"group_{account_id}_nodes.csv",
                       mime="text/csv", key="rel_dl_nodes")
    d2.download_button(t("rel.export_edges"), graph.to_csv(edge_rows), file_name=f"group_{account_id}_edges.csv",
                       mime="text/csv", key="rel_dl_edges")
    links_form(db, actor, account_id, group)

elif view == "contacts":
    chart = cached(graph.contact_chart, db, actor, account_id)
    for warning in chart.warnings:
        st.warning(warning)
    if chart.nodes.height == 0:
        st.info(t("rel.no_contacts"))
    else:
        nodes, edges = contacts_vis(chart)
        show_graph(nodes, edges, hierarchical=True)
        st.caption(t("rel.contacts_legend"))
        st.download_button(t("rel.export_nodes"), graph.to_csv(chart.nodes), file_name=f"contacts_{account_id}.csv",
                           mime="text/csv", key="rel_dl_contacts")
        reports_to_form(db, actor, chart)

else:
    deals = cached(graph.find_opportunities, db, actor, account_id)
    if deals.height == 0:
        st.info(t("rel.no_deals"))
        st.stop()
    labels = dict(zip(deals["id"].to_list(), deals["name"].to_list()))
    opp_id = st.selectbox(t("rel.deal"), list(labels), format_func=lambda i: f"{labels[i]} (#{i})", key="rel_deal")
    tree = cached(graph.decision_tree, db, actor, opp_id)
    for warning in tree.warnings:
        st.warning(warning)
    if tree.nodes.height:
        nodes, edges = contacts_vis(tree, deal=True)
        show_graph(nodes, edges, hierarchical=True)
        st.caption(t("rel.deal_legend"))
        st.download_button(t("rel.export_nodes"), graph.to_csv(tree.nodes), file_name=f"deal_{opp_id}_contacts.csv",
                           mime="text/csv", key="rel_dl_deal")
    deal_roles_editor(db, actor, opp_id, tree, cached(graph.contact_chart, db, actor, account_id).nodes)
