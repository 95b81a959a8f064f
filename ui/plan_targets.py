"""The Targets tab: edit targets in a grid, import them from CSV, export them,
and set the fiscal year start. All checks and writes happen in crm_core.targets;
this module only turns the grid's edit state into rows."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import streamlit as st

from crm_core import lookups, periods, plans, settings, targets
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.periods import Period
from ui.i18n import t
from ui.session import cached, run_write

# the numbers next to each other, then the dimensions
GRID_COLUMNS = ["id", "period", "metric", "target", "actual", "attainment_pct", "owner", "department", "region",
                "product", "account", "note"]
LABEL_FIELDS = ("period", "metric", "owner", "department", "region", "product", "account", "note")


def _grid_key() -> str:
    return f"plan_grid_{st.session_state.get('plan_grid_n', 0)}"


def _blank(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def edits_to_rows(grid: pl.DataFrame, state: dict[str, Any]) -> dict[str, list]:
    """The data editor's edit state as save_labeled_grid arguments."""
    rows = grid.to_dicts()
    changed, added, deleted = [], [], []
    for idx, ch in (state.get("edited_rows") or {}).items():
        base = rows[int(idx)]
        merged = {**base, **ch}
        labeled = {f: _blank(merged.get(f)) for f in LABEL_FIELDS}
        labeled["value"] = _blank(merged.get("target"))
        changed.append((base["id"], base["version"], labeled))
    for row in state.get("added_rows") or []:
        if not any(_blank(v) not in (None, "") for v in row.values()):
            continue  # an empty row the user started and left
        labeled = {f: _blank(row.get(f)) for f in LABEL_FIELDS}
        labeled["value"] = _blank(row.get("target"))
        added.append(labeled)
    for idx in state.get("deleted_rows") or []:
        base = rows[int(idx)]
        deleted.append((base["id"], base["version"]))
    return {"changed": changed, "added": added, "deleted": deleted}


def render(db: Database, actor: Actor, period: Period, today) -> None:
    flash = st.session_state.pop("plan_flash", None)
    if flash:
        st.success(flash)
    df = cached(plans.target_actuals, db, actor, period, today=today)
    can_edit = actor.role in ("admin", "manager")
    st.caption(t("plan.grid.caption", period=period.label))
    opts = cached(lookups.filter_options, db, actor)
    grid = df.select(*[c for c in GRID_COLUMNS if c in df.columns], "version")
    column_config = {
        "id": st.column_config.NumberColumn("id", disabled=True, width="small"),
        "period": st.column_config.TextColumn(t("plan.col.period"), required=True),
        "metric": st.column_config.SelectboxColumn(t("plan.col.metric"), options=list(plans.METRICS), required=True,
                                                   format_func=lambda m: t(f"plan.metric.{m}")),
        "owner": st.column_config.SelectboxColumn(t("plan.col.owner"),
                                                  options=opts["owners"]["display_name"].to_list()),
        "department": st.column_config.SelectboxColumn(t("plan.col.department"),
                                                       options=opts["departments"]["name"].to_list()),
        "region": st.column_config.SelectboxColumn(t("plan.col.region"), options=opts["regions"]),
        "product": st.column_config.SelectboxColumn(t("plan.col.product"), options=opts["products"]["name"].to_list()),
        "account": st.column_config.TextColumn(t("plan.col.account")),
        "target": st.column_config.NumberColumn(t("plan.col.target"), min_value=0, format="%.2f", required=True),
        "note": st.column_config.TextColumn(t("plan.col.note")),
        "actual": st.column_config.NumberColumn(t("plan.col.actual"), disabled=True, format="%.2f"),
        "attainment_pct": st.column_config.NumberColumn(t("plan.col.attainment"), disabled=True, format="%.1f"),
        "version": None,
    }
    if not can_edit:
        st.info(t("plan.grid.readonly"))
        st.dataframe(grid.drop("version"), hide_index=True, column_config=column_config, key="plan_grid_view")
    else:
        key = _grid_key()
        st.data_editor(grid.to_pandas(), hide_index=True, num_rows="dynamic", column_config=column_config,
                       disabled=["id", "actual", "attainment_pct"], key=key)
        if st.button(t("plan.grid.save"), type="primary", key="plan_grid_save"):
            args = edits_to_rows(grid, st.session_state.get(key) or {})
            if not any(args.values()):
                st.info(t("plan.grid.nothing"))
            else:
                done = run_write(lambda: targets.save_labeled_grid(db, actor, **args))
                if done is not None:
                    st.session_state["plan_grid_n"] = st.session_state.get("plan_grid_n", 0) + 1
                    st.session_state["plan_flash"] = t("plan.grid.saved", **done)
                    st.rerun()
    st.download_button(t("plan.export"), data=_csv(targets.export_rows(df)), file_name=f"targets-{period.label}.csv",
                       mime="text/csv", key="plan_export")
    if can_edit:
        _import(db, actor)
        _fiscal(db, actor)


def _csv(df: pl.DataFrame) -> bytes:
    """CSV with spreadsheet formulas defused (cells starting = + - @ tab CR get a leading ')."""
    safe = df.with_columns([
        pl.col(c).map_elements(lambda v: "'" + v if v and v[0] in "=+-@\t\r" else v, return_dtype=pl.String)
        for c, dt in df.schema.items() if dt == pl.String
    ])
    return safe.write_csv().encode("utf-8-sig")


def _import(db: Database, actor: Actor) -> None:
    with st.expander(t("plan.import.title"), expanded=False):
        st.caption(t("plan.import.help"))
        st.download_button(t("plan.import.template"), data=targets.TEMPLATE.encode("utf-8"),
                           file_name="targets-template.csv", mime="text/csv", key="plan_template")
        upload = st.file_uploader(t("plan.import.file"), type=["csv", "tsv", "txt"], key="plan_import_file")
        if upload is not None and st.button(t("plan.import.button"), key="plan_import_go"):
            done = run_write(lambda: targets.import_csv(db, actor, upload.getvalue(), file_name=upload.name))
            if done is not None:
                st.success(t("plan.import.done", **done))


def _fiscal(db: Database, actor: Actor) -> None:
    with st.expander(t("plan.fiscal.title"), expanded=False):
        current = periods.fiscal_year_start_month(db)
        month = st.number_input(t("plan.fiscal.start"), min_value=1, max_value=12, value=current, step=1,
                                key="plan_fy_start")
        if st.button(t("plan.fiscal.save"), key="plan_fy_save") and int(month) != current:
            if run_write(lambda: settings.put(db, actor, "fiscal_year_start_month", int(month))) is not None:
                st.rerun()
