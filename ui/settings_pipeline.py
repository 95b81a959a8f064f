"""Settings tab "Pipeline rules": pool, reminder and lifecycle settings, assignment rules and
stage playbooks, editable by managers and admins (low-code).

Each save is versioned: the versions read when the tab was first drawn travel
with the save, so a setting someone else changed meanwhile is refused with
its current value instead of being overwritten.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import lookups, opportunities, pool
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.session import run_write

_LOADED = "pl_settings_loaded"


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("settings.pipeline_rules"))
    editable = actor.is_manager_or_admin
    if not editable:
        st.info(t("pipeline.settings.read_only"))
    loaded = st.session_state.get(_LOADED)
    if loaded is None:
        loaded = pool.rule_settings(db)
        st.session_state[_LOADED] = loaded
    with st.form("pl_settings_form"):
        values: dict = {}
        cols = st.columns(2)
        for n, key in enumerate(pool.NUMERIC_SETTINGS):
            values[key] = cols[n % 2].number_input(
                t(f"pipeline.settings.{key}"), min_value=pool.NUMERIC_SETTINGS[key][0], step=1,
                value=int(loaded[key][0]), key=f"pl_set_{key}", disabled=not editable)
        st.markdown(f"**{t('pipeline.settings.rules')}**")
        st.caption(t("pipeline.settings.rules_help"))
        rules = pl.DataFrame(loaded["pool.assignment_rules"][0] or [],
                             schema={"kind": pl.String, "match": pl.String, "team_id": pl.Int64, "user_id": pl.Int64})
        edited = st.data_editor(
            rules, key="pl_set_rules", num_rows="dynamic", hide_index=True, disabled=not editable,
            column_config={"kind": st.column_config.SelectboxColumn(t("pipeline.settings.kind"),
                                                                    options=list(pool.RULE_KINDS), required=True),
                           "match": st.column_config.TextColumn(t("pipeline.settings.match")),
                           "team_id": st.column_config.NumberColumn(t("pipeline.settings.team"), format="%d"),
                           "user_id": st.column_config.NumberColumn(t("pipeline.settings.user"), format="%d")})
        submitted = st.form_submit_button(t("pipeline.settings.save"), disabled=not editable)
    if submitted:
        values["pool.assignment_rules"] = [r for r in edited.to_dicts() if any(v is not None for v in r.values())]
        changed = run_write(lambda: pool.save_rule_settings(
            db, actor, values, {k: v for k, (_, v) in loaded.items()}))
        if changed is not None:
            st.session_state.pop(_LOADED, None)
            st.success(t("pipeline.settings.saved", n=len(changed)))
        elif {k: v for k, (_, v) in pool.rule_settings(db).items()} != {k: v for k, (_, v) in loaded.items()}:
            # Refused because someone else saved meanwhile: the next save starts from their values.
            st.session_state.pop(_LOADED, None)
    _ids_help(db)
    _playbooks(db, actor, editable)


def _ids_help(db: Database) -> None:
    with st.expander(t("pipeline.settings.ids")):
        st.dataframe(lookups.users(db).filter(pl.col("role").is_in(["rep", "manager"]) & pl.col("active"))
                     .select("id", "display_name", "department_id", "department", "region"), hide_index=True)


def _playbooks(db: Database, actor: Actor, editable: bool) -> None:
    st.subheader(t("pipeline.settings.playbooks"))
    st.caption(t("pipeline.settings.playbooks_help"))
    stages = lookups.stages(db)
    with st.form("pl_playbook_form"):
        texts = {}
        for row in stages.iter_rows(named=True):
            texts[row["id"]] = (st.text_area(row["name"], value="\n".join(row["playbook"] or []),
                                             key=f"pl_pb_{row['id']}_{row['version']}", disabled=not editable),
                                row["version"], row["playbook"] or [])
        submitted = st.form_submit_button(t("pipeline.settings.save_playbooks"), disabled=not editable)
    if submitted:
        n = 0
        for stage_id, (text, version, before) in texts.items():
            items = [line.strip() for line in text.splitlines() if line.strip()]
            if items != list(before):
                if run_write(lambda s=stage_id, v=version, i=items: opportunities.set_playbook(db, actor, s, v, i)):
                    n += 1
        st.success(t("pipeline.settings.playbooks_saved", n=n))
