"""The low-code weights editor of the value score: one number per indicator, saved as a setting."""

from __future__ import annotations

import streamlit as st

from crm_core import value_scoring
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t
from ui.session import run_write


def editor(db: Database, actor: Actor, current: dict[str, float]) -> None:
    """Weights per group; managers and admins save them (stale saves are refused)."""
    st.caption(t("value.weights_rule"))
    can_edit = actor.is_manager_or_admin
    # The version the user started from travels with the form, so a save over
    # someone else's newer weights is refused instead of overwriting them.
    version = value_scoring.weights_version(db)
    with st.form("val_weights_form"):
        new: dict[str, float] = {}
        cols = st.columns(len(value_scoring.GROUPS))
        for col, group in zip(cols, value_scoring.GROUPS):
            col.markdown(f"**{t('value.group.' + group)}**")
            for ind in value_scoring.INDICATORS:
                if ind.group != group:
                    continue
                new[ind.key] = col.number_input(t(f"value.ind.{ind.key}"), min_value=0.0, max_value=1.0,
                                                value=float(current[ind.key]), step=0.05, key=f"vw_{ind.key}",
                                                disabled=not can_edit)
        saved = st.form_submit_button(t("value.save_weights"), disabled=not can_edit)
    if not can_edit:
        st.info(t("value.weights_readonly"))
    if saved and run_write(lambda: value_scoring.save_weights(db, actor, new, expected_version=version),
                           success=t("saved")) is not None:
        st.rerun()
