"""Audit log: who changed what, when, with the values before and after (admins only)."""

from datetime import date, timedelta

import streamlit as st

from crm_core import audit
from crm_core.errors import CrmError
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
SHOWN = 5000  # newest entries on screen; the download has every matching entry
st.title(t("audit.title"))
st.caption(t("audit.caption"))
try:
    choices = cached(audit.filter_choices, db, actor)
except CrmError as exc:  # not an admin: crm_core refuses, the page says why
    st.error(str(exc))
    st.stop()

with st.sidebar:
    st.subheader(t("filters.header"))
    user = st.selectbox(t("audit.user"), [None, *choices["users"]], format_func=lambda v: t("audit.all") if v is None else v,
                        key="audit_user")
    entity = st.selectbox(t("audit.entity"), [None, *choices["entities"]],
                          format_func=lambda v: t("audit.all") if v is None else v, key="audit_entity")
    action = st.selectbox(t("audit.action"), [None, *choices["actions"]],
                          format_func=lambda v: t("audit.all") if v is None else v, key="audit_action")
    period = st.date_input(t("filters.period"), value=(date.today() - timedelta(days=30), date.today()),
                           key="audit_period")

date_from, date_to = period if isinstance(period, (tuple, list)) and len(period) == 2 else (None, None)
filters = {"user_login": user, "entity": entity, "action": action, "date_from": date_from, "date_to": date_to}
entries = cached(audit.list_entries, db, actor, **filters, limit=SHOWN)
st.metric(t("audit.count"), f"{entries.height:,}")
if entries.height >= SHOWN:
    st.caption(t("audit.truncated", n=f"{SHOWN:,}"))
if entries.height == 0:
    st.info(t("no_data"))
else:
    st.dataframe(entries, hide_index=True, width="stretch", column_config={
        "logged_at": st.column_config.DatetimeColumn(t("audit.when"), format="YYYY-MM-DD HH:mm:ss"),
        "user_login": t("audit.user"), "action": t("audit.action"), "entity": t("audit.entity"),
        "entity_id": t("audit.entity_id"), "before": t("audit.before"), "after": t("audit.after"),
        "note": t("audit.note"),
    })
# Built only when clicked (the whole log can be large), with the same filters as the table.
st.download_button(t("download_csv"), data=lambda: audit.export_csv(db, actor, **filters),
                   file_name=f"audit-log-{date.today().isoformat()}.csv", mime="text/csv", key="audit_csv")
