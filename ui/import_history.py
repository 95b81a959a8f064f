"""The export and history tabs: download any table or report; list import batches and undo one."""

from __future__ import annotations

import streamlit as st

from crm_core import exporter, importer
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.errors import CrmError
from crm_core.importer import load
from ui.i18n import t
from ui.session import cached, run_write


def _export_data(db: Database, actor: Actor, what: str, limit: int | None = None):
    if what.startswith("report:"):
        from crm_core.reports import ReportOptions, all_reports

        df = all_reports()[what.split(":", 1)[1]](db, actor, ReportOptions())
        return df.head(limit) if limit else df
    return exporter.table(db, actor, what, limit=limit)


def export_tab(db: Database, actor: Actor) -> None:
    from crm_core.reports import all_reports

    options = exporter.exportable_tables(actor) + [f"report:{n}" for n in sorted(all_reports())]
    c1, c2, c3 = st.columns([2, 1, 1])
    what = c1.selectbox(t("io.export_what"), options, key="exp_what")
    fmt = c2.selectbox(t("io.export_format"), list(exporter.FORMATS), key="exp_format")
    enc = c3.selectbox(t("io.export_encoding"), ["utf-8-sig", "gbk"], key="exp_encoding",
                       disabled=fmt != "csv")
    try:
        preview = cached(_export_data, db, actor, what, 200)
    except CrmError as exc:
        st.error(str(exc))
        return
    st.caption(t("io.export_note"))
    # the whole file is built only on request: a million rows should not slow every visit to the page
    key = ("exp_file", what, fmt, enc, db.data_version, actor.login)
    if st.button(t("io.prepare", fmt=fmt.upper()), key="exp_prepare"):
        try:
            df = _export_data(db, actor, what)
            st.session_state["exp_ready"] = (key, exporter.to_bytes(df, fmt, encoding=enc), df.height)
        except CrmError as exc:
            st.error(str(exc))
    ready = st.session_state.get("exp_ready")
    if ready and ready[0] == key:
        st.caption(t("io.export_rows", rows=ready[2]))
        st.download_button(t("io.download", fmt=fmt.upper()), ready[1], file_name=f"{what.replace(':', '_')}.{fmt}",
                           key="exp_download")
    st.dataframe(preview, hide_index=True, width="stretch")


def history_tab(db: Database, actor: Actor) -> None:
    if actor.role not in ("admin", "analyst"):
        st.info(t("io.no_import_role"))
        return
    batches = cached(load.batches, db, actor)
    if batches.height == 0:
        st.caption(t("io.no_batches"))
        return
    st.dataframe(batches, hide_index=True, width="stretch")
    committed = [b for b, s in zip(batches["id"].to_list(), batches["status"].to_list()) if s == "committed"]
    if not committed:
        return
    batch = st.selectbox(t("io.undo_batch"), committed, key="imp_undo_batch")
    try:
        plan = importer.undo(db, actor, int(batch), dry_run=True)
        st.caption(t("io.undo_plan", deleted=sum(plan["deleted"].values()), restored=sum(plan["restored"].values())))
    except CrmError as exc:
        st.warning(str(exc))
        return
    if st.button(t("io.undo"), key="imp_undo") and run_write(
            lambda: importer.undo(db, actor, int(batch)), success=t("io.undone", batch=batch)) is not None:
        st.rerun()
