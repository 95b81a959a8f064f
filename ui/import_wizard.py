"""The import tab: upload, check the mapping, dry run, then load (or fix the file).

State lives in st.session_state under `imp_*` keys: the uploaded file is
written once to a temporary file (DuckDB reads paths), and the last dry run
is kept so the preview survives reruns.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from crm_core import derived, exporter, importer, lookups
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.errors import CrmError
from crm_core.importer import mapping as mapping_mod
from crm_core.importer.entities import ENTITIES
from ui.i18n import t
from ui.session import cached, run_write

SKIP = "—"
CREATE = "+"


def fields_table() -> Any:
    """What each import type accepts: the reference shown before any upload."""
    rows = []
    for e in ENTITIES.values():
        rows.append({
            t("io.entity"): e.label,
            t("io.required"): ", ".join(f.name for f in e.fields if f.required),
            t("io.optional"): ", ".join(f.name for f in e.fields if not f.required),
            t("io.matched_by"): " / ".join("+".join(k) for k in e.keys) or "—",
        })
    return rows


def _stored_upload(upload: Any) -> tuple[str, str]:
    """Write the upload to a temporary file once per content; return its path and a short content key."""
    data = upload.getvalue()
    digest = hashlib.sha1(data).hexdigest()
    key = f"imp_file_{digest}"
    path = st.session_state.get(key)
    if not path or not os.path.exists(path):
        suffix = Path(upload.name).suffix or ".csv"
        fd, path = tempfile.mkstemp(prefix="crm_upload_", suffix=suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        st.session_state[key] = path
    return path, digest[:12]


def import_tab(db: Database, actor: Actor) -> None:
    if actor.role not in ("admin", "analyst"):
        st.info(t("io.no_import_role"))
        st.dataframe(fields_table(), hide_index=True, width="stretch")
        return
    c1, c2 = st.columns([1, 2])
    entity = c1.selectbox(t("io.entity"), list(ENTITIES), format_func=lambda k: ENTITIES[k].label, key="imp_entity")
    upload = c2.file_uploader(t("io.file"), type=["csv", "tsv", "txt", "xlsx", "xlsm", "xls"], key="imp_upload")
    if upload is None:
        st.caption(t("io.help"))
        st.dataframe(fields_table(), hide_index=True, width="stretch")
        return
    path, digest = _stored_upload(upload)
    ent = ENTITIES[entity]
    try:
        src = importer.read_headers(path, upload.name)
    except CrmError as exc:
        st.error(str(exc))
        return
    st.caption(t("io.detected", encoding=src.encoding, delimiter=repr(src.delimiter) if src.kind == "csv" else "xlsx",
                 columns=len(src.headers)))
    for note in src.notes:
        st.caption(note)

    # mapping: saved by name, automatic, then adjusted per column
    saved_names = mapping_mod.names_for(db, ent)
    saved = st.selectbox(t("io.saved_mapping"), ["", *saved_names], key=f"imp_saved_{entity}")
    given = mapping_mod.load(db, saved, ent) if saved else None
    auto = mapping_mod.resolve(ent, src.headers, given)
    choices = [SKIP, *ent.field_names]
    chosen: dict[str, str | None] = {}
    with st.expander(t("io.mapping"), expanded=True):
        cols = st.columns(3)
        for i, header in enumerate(src.headers):
            current = auto.get(header) or SKIP
            pick = cols[i % 3].selectbox(header, choices, index=choices.index(current),
                                         key=f"imp_map_{entity}_{digest}_{saved}_{i}")
            chosen[header] = None if pick == SKIP else pick
        unmapped = [h for h, v in chosen.items() if not v]
        if unmapped:
            st.caption(t("io.unmapped", cols=", ".join(unmapped)))
        n1, n2 = st.columns([2, 1])
        name = n1.text_input(t("io.mapping_name"), key=f"imp_mapname_{entity}")
        if n2.button(t("io.save_mapping"), key="imp_save_mapping") and run_write(
                lambda: mapping_mod.save(db, actor, name, ent, chosen), success=t("saved")) is not None:
            st.rerun()

    # options
    o1, o2, o3 = st.columns(3)
    order = o1.radio(t("io.date_order"), ["auto", "dmy", "mdy"], format_func=lambda k: t(f"io.date_order.{k}"),
                     horizontal=True, key="imp_date_order")
    create_missing = o2.checkbox(t("io.create_missing"), key="imp_create_missing")
    partial = o3.checkbox(t("io.partial"), key="imp_partial")
    stage_map = _stage_mapping(db, actor, entity)
    opts = {"date_order": None if order == "auto" else order, "create_missing": create_missing,
            "allow_partial": partial, "stage_map": stage_map, "mapping_name": saved or None}

    b1, b2 = st.columns(2)
    if b1.button(t("io.check"), type="secondary", key="imp_check"):
        result = run_write(lambda: importer.import_file(db, actor, entity, path, dry_run=True, mapping=chosen,
                                                        file_name=upload.name, **opts))
        st.session_state["imp_result"] = result
        if result is not None and "stage" in (result.unknown or {}) and not stage_map:
            st.rerun()  # the stage choices are drawn above the buttons: show them now, not after the next click
    if b2.button(t("io.load"), type="primary", key="imp_load"):
        bar = st.progress(0.0, text=t("io.progress"))
        opts["progress"] = lambda f, what: bar.progress(min(max(f, 0.0), 1.0), text=f"{t('io.progress')} {what}")
        try:
            result = importer.import_file(db, actor, entity, path, mapping=chosen, file_name=upload.name, **opts)
        except importer.ImportRejected as exc:
            st.error(str(exc))
            result = exc.result
        except CrmError as exc:
            st.error(str(exc))
            result = None
        else:
            st.success(t("io.loaded", batch=result.batch_id, created=result.created, updated=result.updated))
            if result.summaries_pending:
                # a large batch: recompute the summaries now, under a message, rather than on the next page view
                with st.spinner(t("io.summaries")):
                    took = derived.refresh_all(db)
                st.caption(t("io.summaries_done", seconds=sum(took.values())))
        st.session_state["imp_result"] = result
    result = st.session_state.get("imp_result")
    if result is not None and result.entity == entity:
        show_result(result)


def _stage_mapping(db: Database, actor: Actor, entity: str) -> dict[str, str]:
    """Unknown stages of the last dry run, each mapped to a configured stage (or created, with the checkbox)."""
    result = st.session_state.get("imp_result")
    if result is None or result.entity != entity or "stage" not in (result.unknown or {}):
        return {}
    stages = cached(lookups.stages, db, actor)["name"].to_list()
    st.markdown(f"**{t('io.unknown_stages')}**")
    picked: dict[str, str] = {}
    cols = st.columns(3)
    for i, value in enumerate(result.unknown["stage"][:30]):
        pick = cols[i % 3].selectbox(value, [CREATE, *stages], format_func=lambda s: t("io.create") if s == CREATE
                                     else s, key=f"imp_stage_{i}_{value}")
        if pick != CREATE:
            picked[value] = pick
    return picked


def show_result(result: importer.ImportResult) -> None:
    """Counts, notes, the preview, the rows per action and the rejected rows (downloadable)."""
    st.subheader(t("io.dry_run") if result.dry_run else t("io.result", batch=result.batch_id or "—"))
    m = st.columns(5)
    m[0].metric(t("io.rows"), f"{result.rows_total:,}")
    m[1].metric(t("io.create"), f"{result.created:,}")
    m[2].metric(t("io.update"), f"{result.updated:,}")
    m[3].metric(t("io.unchanged"), f"{result.unchanged:,}")
    m[4].metric(t("io.rejected"), f"{result.rejected:,}")
    if result.also_created:
        st.caption(t("io.also_created", what=", ".join(f"{n:,} {table}" for table, n in result.also_created.items())))
    for note in result.notes:
        st.caption(note)
    if result.rejected_rows is not None and result.rejected_rows.height:
        st.markdown(f"**{t('io.rejected_rows')}**")
        st.dataframe(result.rejected_rows.head(1000), hide_index=True, width="stretch")
        st.download_button(t("io.download_rejected"), exporter.to_bytes(result.rejected_rows, "csv"),
                           file_name=f"rejected_{Path(result.file_name).stem}.csv", mime="text/csv",
                           key="imp_dl_rejected")
    tabs = st.tabs([t("io.preview"), t("io.create"), t("io.update"), t("io.unchanged"), t("io.rejected")])
    with tabs[0]:
        if result.preview is not None:
            st.dataframe(result.preview, hide_index=True, width="stretch")
    for tab, action in zip(tabs[1:], ("create", "update", "unchanged", "rejected")):
        with tab:
            df = result.samples.get(action)
            if df is None or df.height == 0:
                st.caption(t("no_data"))
            else:
                st.dataframe(df, hide_index=True, width="stretch")
