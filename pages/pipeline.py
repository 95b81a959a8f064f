"""Pipeline: the page sales reps live in.

My open deals in an editable grid, entry forms for accounts, contacts, deals
and follow-ups, the public pool, reminders, and (for managers) merges,
handovers and lifecycle rules. Reps see their own rows and the pool; managers
their department's.
"""

import streamlit as st

from ui import (
    pipeline_account_form,
    pipeline_accounts,
    pipeline_activity_form,
    pipeline_deal_form,
    pipeline_grid,
    pipeline_manage,
    pipeline_pool,
    pipeline_reminders,
)
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.pipeline_common import show_flash
from ui.session import page_setup

db, actor = page_setup()
st.title(t("pipeline.title"))
show_flash()
flt = sidebar_filters(db, actor, period=False)


def _new_entry() -> None:
    if actor.can_edit_pipeline:
        pipeline_deal_form.render(db, actor)
        pipeline_account_form.render_account(db, actor)
        pipeline_account_form.render_contact(db, actor)
    else:
        st.info(t("pipeline.read_only"))


def _followups() -> None:
    if actor.can_edit_pipeline:
        pipeline_activity_form.render(db, actor)
    else:
        st.info(t("pipeline.read_only"))


tab_views = {
    "deals": lambda: pipeline_grid.render(db, actor, flt),
    "new": _new_entry,
    "followups": _followups,
    "accounts": lambda: pipeline_accounts.render(db, actor),
    "pool": lambda: pipeline_pool.render(db, actor),
    "reminders": lambda: pipeline_reminders.render(db, actor),
}
if actor.is_manager_or_admin:
    tab_views["manage"] = lambda: pipeline_manage.render(db, actor)
# Only the open tab runs and is sent to the browser (switching tabs reruns the page):
# at a million deals, drawing every tab's reads, lists and 5,000-account pickers
# took seconds the first screen does not show. The open tab survives saves and reruns.
tabs = st.tabs([t(f"pipeline.tab.{n}") for n in tab_views], key="pl_tab", on_change="rerun")
for view, tab in zip(tab_views.values(), tabs):
    if tab.open:
        with tab:
            view()
