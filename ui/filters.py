"""The shared sidebar filters. Values live in st.session_state under `flt_*`
keys, so a selection made on one page holds on every other page."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from crm_core import lookups
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from ui.i18n import t
from ui.session import cached

_KEYS = ("flt_period", "flt_owner", "flt_department", "flt_region", "flt_product", "flt_source")


def sidebar_filters(db: Database, actor: Actor, *, period: bool = True) -> PipelineFilter:
    """Draw the filters in the sidebar and return the selection."""
    opts = cached(lookups.filter_options, db, actor)
    sb = st.sidebar
    sb.subheader(t("filters.header"))
    date_from = date_to = None
    if period:
        default = (date.today() - timedelta(days=365), date.today())
        value = sb.date_input(t("filters.period"), value=st.session_state.get("flt_period", default), key="_flt_period")
        if isinstance(value, (tuple, list)) and len(value) == 2:
            st.session_state["flt_period"] = tuple(value)
            date_from, date_to = value
    owners = dict(zip(opts["owners"]["id"].to_list(), opts["owners"]["display_name"].to_list()))
    departments = dict(zip(opts["departments"]["id"].to_list(), opts["departments"]["name"].to_list()))
    products = dict(zip(opts["products"]["id"].to_list(), opts["products"]["name"].to_list()))

    def multi(label: str, key: str, options: list, fmt=None) -> list:
        current = [v for v in st.session_state.get(key, []) if v in options]
        chosen = sb.multiselect(label, options, default=current, format_func=fmt or str, key="_" + key)
        st.session_state[key] = chosen
        return chosen

    owner_ids = multi(t("filters.owner"), "flt_owner", list(owners), owners.get)
    dept_ids = multi(t("filters.department"), "flt_department", list(departments), departments.get)
    regions = multi(t("filters.region"), "flt_region", opts["regions"])
    product_ids = multi(t("filters.product"), "flt_product", list(products), products.get)
    sources = multi(t("filters.source"), "flt_source", opts["sources"])
    if sb.button(t("filters.clear"), key="flt_clear"):
        for k in _KEYS:
            st.session_state.pop(k, None)
            st.session_state.pop("_" + k, None)
        st.rerun()
    return PipelineFilter(date_from=date_from, date_to=date_to, owner_ids=tuple(owner_ids),
                          department_ids=tuple(dept_ids), regions=tuple(regions), product_ids=tuple(product_ids),
                          sources=tuple(sources))
