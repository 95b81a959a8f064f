"""Small helpers shared by the Pipeline page's tabs: pickers and refusal messages."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from crm_core import accounts
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.errors import CrmError, StaleEditError
from ui.i18n import t
from ui.session import cached


def show_refusals(errors: list[CrmError]) -> None:
    """Each refused row's message; a stale row also shows the values now stored."""
    for exc in errors:
        st.error(str(exc))
        if isinstance(exc, StaleEditError) and exc.current:
            st.caption(t("stale"))
            keep = ("name", "stage_id", "amount", "probability", "expected_close", "status", "version")
            st.json({k: str(v) for k, v in exc.current.items() if k in keep}, expanded=True)


def options(df: pl.DataFrame, id_col: str = "id", label_col: str = "name") -> dict[Any, str]:
    """{id: label} of a frame, for a selectbox's format_func."""
    return dict(zip(df[id_col].to_list(), df[label_col].to_list()))


def account_picker(db: Database, actor: Actor, key: str, *, allow_new: bool = False) -> int | None:
    """Pick one of my accounts (or -1 for 'a new account' when allowed)."""
    labels = options(cached(accounts.choices, db, actor))
    ids: list[int] = ([-1] if allow_new else []) + list(labels)
    if not ids:
        st.info(t("pipeline.no_accounts"))
        return None
    return st.selectbox(t("pipeline.account"), ids, key=key,
                        format_func=lambda i: t("pipeline.new_account") if i == -1 else labels.get(i, str(i)))


def frame(df: pl.DataFrame, empty: str, **kwargs: Any) -> None:
    """A read-only table, or a caption when there is nothing to show."""
    if df.height == 0:
        st.caption(empty)
    else:
        st.dataframe(df.drop([c for c in ("version",) if c in df.columns]), hide_index=True, width="stretch",
                     **{"placeholder": "", **kwargs})   # an empty cell, not the word "None"


_FLASH = "pl_flash"


def done(message: str, *, clear: tuple[str, ...] = ()) -> None:
    """After a successful save: empty the form's inputs, redraw the page with fresh data, show `message`."""
    for key in clear:
        st.session_state.pop(key, None)
    st.session_state[_FLASH] = message
    st.rerun()


def show_flash() -> None:
    """The message of the save that caused this redraw, once."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message)
