"""The editable grid of my open opportunities, and one deal's details with its stage playbook.

The grid keeps the rows (and their versions) the user loaded until they save
or reload, so an edit made on a copy someone else changed meanwhile is
refused by crm_core with the current values instead of overwriting them.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import lookups, opportunities, playbook
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from ui.i18n import t
from ui.pipeline_common import done, frame, options, show_refusals
from ui.session import cached, run_write

_SNAPSHOT = "pl_grid_snapshot"


def _snapshot(db: Database, actor: Actor, flt: PipelineFilter) -> dict:
    """The rows the editor shows; reloaded when the data changed and nothing is being edited."""
    snap = st.session_state.get(_SNAPSHOT)
    pending = snap is not None and bool((st.session_state.get(snap["key"]) or {}).get("edited_rows"))
    if snap is None or (not pending and (snap["version"] != db.data_version or snap["flt"] != flt)):
        rows = cached(opportunities.grid_rows, db, actor, flt)
        snap = {"rows": rows, "version": db.data_version, "flt": flt, "key": f"pl_grid_{db.data_version}"}
        st.session_state[_SNAPSHOT] = snap
    return snap


def render(db: Database, actor: Actor, flt: PipelineFilter) -> None:
    snap = _snapshot(db, actor, flt)
    rows = snap["rows"]
    totals = cached(opportunities.grid_totals, db, actor, flt)
    c1, c2 = st.columns(2)
    c1.metric(t("pipeline.open_count"), f"{totals['count']:,}")
    c2.metric(t("pipeline.open_amount"), f"{float(totals['amount'] or 0):,.0f}")
    if rows.height == 0:
        st.info(t("pipeline.grid.empty"))
        return
    if totals["count"] > rows.height:
        st.caption(t("pipeline.grid.first_rows", shown=rows.height, total=totals["count"]))
    if not actor.can_edit_pipeline:
        frame(rows, t("pipeline.none"))
        return
    stage_names = lookups.stages(db)["name"].to_list()
    edited = st.data_editor(
        rows, key=snap["key"], hide_index=True, width="stretch", num_rows="fixed", placeholder="",  # not "None"
        disabled=["id", "account", "owner", "version"],
        column_config={
            "id": st.column_config.NumberColumn(t("pipeline.col.id"), format="%d"),
            "name": st.column_config.TextColumn(t("pipeline.col.name"), required=True),
            "account": st.column_config.TextColumn(t("pipeline.col.account")),
            "stage": st.column_config.SelectboxColumn(t("pipeline.col.stage"), options=stage_names, required=True),
            "amount": st.column_config.NumberColumn(t("pipeline.col.amount"), min_value=0, format="%.2f"),
            "probability": st.column_config.NumberColumn(t("pipeline.col.probability"), min_value=0.0,
                                                         max_value=1.0, step=0.05, format="%.2f"),
            "expected_close": st.column_config.DateColumn(t("pipeline.col.expected_close"), format="YYYY-MM-DD"),
            "lost_reason": st.column_config.TextColumn(t("pipeline.col.lost_reason")),
            "owner": st.column_config.TextColumn(t("pipeline.col.owner")),
            "version": None,
        },
    )
    st.caption(t("pipeline.grid.help"))
    c1, c2 = st.columns([1, 5])
    if c1.button(t("pipeline.grid.save"), key="pl_grid_save", type="primary"):
        saved, errors = opportunities.apply_grid_edits(db, actor, rows.to_dicts(), edited.to_dicts())
        st.session_state.pop(_SNAPSHOT, None)
        st.session_state["pl_grid_result"] = (saved, errors)
        st.rerun()
    if c2.button(t("pipeline.grid.reload"), key="pl_grid_reload"):
        st.session_state.pop(_SNAPSHOT, None)
        st.rerun()
    result = st.session_state.pop("pl_grid_result", None)
    if result is not None:
        saved, errors = result
        if saved:
            st.success(t("pipeline.grid.saved", n=len(saved)))
        show_refusals(errors)
        if not saved and not errors:
            st.info(t("pipeline.grid.nothing"))
    _details(db, actor, rows)


def _details(db: Database, actor: Actor, rows) -> None:
    """One deal: its stage's playbook, the people involved, its stage history."""
    st.subheader(t("pipeline.detail"))
    labels = dict(zip(rows["id"].to_list(), rows["name"].to_list()))
    opp_id = st.selectbox(t("pipeline.detail.pick"), list(labels), format_func=lambda i: labels[i], key="pl_detail")
    if opp_id is None:
        return
    deal = cached(opportunities.get, db, actor, opp_id)
    _move_stage(db, actor, deal)
    st.markdown(f"**{t('pipeline.detail.playbook', stage=deal['stage'])}**")
    for n, item in enumerate(deal["playbook"] or []):
        # keyed by the data version: after any save the boxes show the stored ticks again
        key = f"pl_pb_{opp_id}_{deal['stage_id']}_{n}_{db.data_version}"
        st.checkbox(item, value=item in deal["ticked"], key=key, disabled=not actor.can_edit_pipeline,
                    on_change=_tick, args=(db, actor, deal, item, key))
    if not deal["playbook"]:
        st.caption(t("pipeline.detail.no_playbook"))
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{t('pipeline.detail.contacts')}**")
        frame(pl.DataFrame(deal["contacts"]), t("pipeline.none"))
        st.markdown(f"**{t('pipeline.detail.team')}**")
        frame(pl.DataFrame(deal["team"]), t("pipeline.none"))
        if actor.can_edit_pipeline:
            _edit_team(db, actor, deal)
    with c2:
        st.markdown(f"**{t('pipeline.detail.history')}**")
        frame(pl.DataFrame(deal["stage_history"]), t("pipeline.none"))


def _edit_team(db: Database, actor: Actor, deal: dict) -> None:
    """Change who works on the deal with its owner."""
    users = lookups.users(db).filter(pl.col("active") & pl.col("role").is_in(["rep", "manager"]))
    names = {i: n for i, n in options(users, label_col="display_name").items() if i != deal["owner_id"]}
    current = [m["id"] for m in deal["team"] if m["id"] in names]
    with st.form(f"pl_team_{deal['id']}"):
        team = st.multiselect(t("pipeline.detail.team_edit"), list(names), default=current, format_func=names.get,
                              key=f"pl_team_pick_{deal['id']}_{deal['version']}")
        if st.form_submit_button(t("pipeline.detail.team_save")):
            if run_write(lambda: opportunities.set_team(db, actor, deal["id"], deal["version"], team)) is not None:
                st.session_state.pop(_SNAPSHOT, None)
                done(t("pipeline.detail.team_saved", name=deal["name"]))


def _tick(db: Database, actor: Actor, deal: dict, item: str, key: str) -> None:
    """Store one playbook tick; when refused, show the item as it is stored now."""
    done = bool(st.session_state[key])
    if run_write(lambda: playbook.set_done(db, actor, deal["id"], item, done, was_done=not done)) is None:
        st.session_state[key] = item in playbook.ticked(db, actor, deal["id"], deal["stage_id"])


def _move_stage(db: Database, actor: Actor, deal: dict) -> None:
    """Move one deal to another stage (the grid's stage column, as a form)."""
    stages = lookups.stages(db)
    names = dict(zip(stages["id"].to_list(), stages["name"].to_list()))
    ids = list(names)
    with st.form(f"pl_move_{deal['id']}"):
        c1, c2 = st.columns(2)
        stage_id = c1.selectbox(t("pipeline.col.stage"), ids, index=ids.index(deal["stage_id"]),
                                format_func=names.get, key=f"pl_move_stage_{deal['id']}")
        reason = c2.text_input(t("pipeline.col.lost_reason"), key=f"pl_move_reason_{deal['id']}")
        if st.form_submit_button(t("pipeline.detail.move")):
            changes = {"stage_id": stage_id, "lost_reason": reason}
            if run_write(lambda: opportunities.update(db, actor, deal["id"], deal["version"], changes)) is not None:
                st.session_state.pop(_SNAPSHOT, None)
                done(t("pipeline.detail.moved", name=deal["name"], stage=names[stage_id]))
