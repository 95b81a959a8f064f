"""The database, the signed-in user and cached reads for a Streamlit session.

The process holds one `Database` (st.cache_resource); every page asks for it
with `page_setup()`, which also refuses visitors who are not signed in. Cached
reads are keyed by the database's `data_version`, so any committed write makes
every page recompute from fresh data, while repeated reruns are free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from crm_core.access import Actor, load_actor
from crm_core.bootstrap import open_app_database, run_daily_jobs
from crm_core.db import Database, default_path
from crm_core.errors import CrmError, DatabaseOpenError, StaleEditError
from ui.i18n import t

log = logging.getLogger("panorama")
T = TypeVar("T")


@st.cache_resource(show_spinner="Opening the database…")
def _open(path: str) -> Database:
    db = open_app_database(path)
    try:
        run_daily_jobs(db)
    except CrmError:
        log.exception("daily jobs failed")
    return db


def get_db() -> Database:
    """The process-wide database; a page that cannot open it shows why and stops."""
    try:
        return _open(default_path())
    except DatabaseOpenError as exc:
        st.error(f"**{t('db.error')}**\n\n{exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


def current_actor(db: Database) -> Actor | None:
    login = st.session_state.get("actor_login")
    if not login:
        return None
    try:
        return load_actor(db, login)
    except CrmError:
        st.session_state.pop("actor_login", None)
        return None


def page_setup() -> tuple[Database, Actor]:
    """Every page starts here: the database and the signed-in user, or a stop."""
    db = get_db()
    actor = current_actor(db)
    if actor is None:
        st.warning(t("login.required"))
        st.stop()
    return db, actor


def cached(fn: Callable[..., T], db: Database, actor: Actor, *args: Any, **kwargs: Any) -> T:
    """Call a crm_core read through Streamlit's cache, keyed by data version and actor."""
    return _cached_call(fn.__module__, fn.__qualname__, db.path, db.data_version, actor, args, kwargs, _db=db)


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_call(module: str, name: str, path: str, version: int, actor: Actor, args: tuple, kwargs: dict,
                 _db: Database) -> Any:
    import importlib

    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn(_db, actor, *args, **kwargs)


def run_write(action: Callable[[], T], *, success: str | None = None) -> T | None:
    """Run a crm_core write; show its CrmError as a message instead of a traceback.

    Returns the action's result, or None when it was refused.
    """
    try:
        result = action()
    except StaleEditError as exc:
        st.error(f"{exc}")
        if exc.current:
            st.caption(t("stale"))
            st.json(exc.current, expanded=True)
        return None
    except CrmError as exc:
        st.error(str(exc))
        return None
    if success:
        st.toast(success)
    return result
