"""The database, the signed-in user and cached reads for a Streamlit session.

The process holds one `Database` (st.cache_resource); every page asks for it
with `page_setup()`, which also refuses visitors who are not signed in. Cached
reads are keyed by the database's `data_version`, so any committed write makes
every page recompute from fresh data, while repeated reruns are free.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import streamlit as st

from crm_core import auth, tokens
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
    auth.ensure_admin_from_env(db)
    return db


_jobs_lock = threading.Lock()
_jobs_checked_on: dict[str, date] = {}  # database path -> the day its daily jobs were last started
_jobs_threads: list[threading.Thread] = []
# Seconds between the first page drawn and the start of the day's jobs: the browser is still drawing
# the sign-in form then, and on 2 cores the jobs (about half a second of CPU at a million deals)
# would slow it down; by the time someone has typed their password they are done.
JOBS_DELAY_S = 2.0


def run_daily_jobs_after_draw(db: Database) -> None:
    """Start the start-of-day jobs (pool sweep, lifecycle, ...) in the background; app.py calls it
    after the page is drawn.

    Once a day per database and process (a server running past midnight runs
    them again). They run on their own thread a moment later, so no page run
    waits for them; writes go through the database's single writer like any
    save. A page drawn before they finish shows the data as it was read, as
    when anyone saves meanwhile; the next rerun reads the new data version.
    """
    today = date.today()
    with _jobs_lock:
        if _jobs_checked_on.get(db.path) == today:
            return
        _jobs_checked_on[db.path] = today
        worker = threading.Timer(JOBS_DELAY_S, _daily_jobs, args=(db, today))
        worker.daemon = True
        _jobs_threads[:] = [w for w in _jobs_threads if w.is_alive()]  # a server runs for days
        _jobs_threads.append(worker)
    worker.start()


def _daily_jobs(db: Database, today: date) -> None:
    try:
        run_daily_jobs(db, today)
    except Exception:  # no page to show it on: log it for the admin
        log.exception("daily jobs failed")


def wait_for_daily_jobs(timeout: float = 60.0) -> None:
    """Wait until the daily jobs started so far have finished (tests, shutdown)."""
    with _jobs_lock:
        pending = list(_jobs_threads)
        _jobs_threads.clear()
    for worker in pending:
        worker.join(timeout)


_warmed = False


def warm_up_after_draw() -> None:
    """Import what the first signed-in page needs, while the user reads the sign-in page.

    Streamlit turns every table into pandas (st.dataframe, st.data_editor):
    importing pandas and pyarrow's converters takes 0.4-1 s on a loaded
    2-core machine, which the first page after signing in would otherwise wait for.
    """
    global _warmed
    if _warmed:
        return
    import polars as pl

    pl.DataFrame({"warm": [1]}).to_pandas()
    _warmed = True


def get_db() -> Database:
    """The process-wide database; a page that cannot open it shows why and stops."""
    try:
        return _open(default_path())
    except DatabaseOpenError as exc:
        st.error(f"**{t('db.error')}**\n\n{exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


COOKIE = "panorama_session"  # the browser cookie that carries the signed session token
_STATE_KEYS = ("actor_login", "auth_sid", "auth_token", "auth_expires", "auth_source")


def _forget() -> None:
    for key in _STATE_KEYS:
        st.session_state.pop(key, None)


def remember(db: Database, actor: Actor, *, source: str = "password") -> None:
    """Sign `actor` in for this browser session; password sign-ins get a signed token (see
    `keep_token`) so that reloading the page keeps them signed in until it expires or they sign out."""
    st.session_state["actor_login"] = actor.login
    st.session_state["auth_source"] = source
    st.session_state.pop("signed_out", None)
    if source == "password":
        session = auth.start_session(db, actor, source=source)
        st.session_state["auth_sid"] = session.sid
        st.session_state["auth_token"] = session.token
        st.session_state["auth_expires"] = session.expires_at


def keep_token() -> None:
    """Store the session token in a browser cookie, or clear it after a sign-out.

    Streamlit can only read cookies (`st.context.cookies`, as they were when
    the page was loaded), so a one-line script sets it. The token is our own
    URL-safe text, never user input. A cookie rather than the URL keeps the
    token out of shared links and the browser history.
    """
    token = st.session_state.get("auth_token")
    if token and st.context.cookies.get(COOKIE) != token:
        max_age = max(int((st.session_state["auth_expires"] - tokens.utcnow()).total_seconds()), 0)
        _set_cookie(f"{token}; max-age={max_age}")
    elif not token and st.session_state.get("signed_out") and st.context.cookies.get(COOKIE):
        _set_cookie("; max-age=0")


def _set_cookie(value_and_age: str) -> None:
    # Secure on https so the token never travels in clear; SameSite=Strict so other sites cannot send it.
    st.sidebar.html(
        f"<script>document.cookie = '{COOKIE}={value_and_age}; path=/; SameSite=Strict'"
        " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )


def oidc_configured() -> bool:
    """True when `[auth]` is configured in secrets.toml (then st.login is offered)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises rather than answering False
        return False


def _external_actor(db: Database) -> tuple[Actor, str] | None:
    """A user named by a trusted proxy header (when CRM_TRUSTED_HEADER is set) or by st.login."""
    if st.session_state.get("signed_out"):
        return None
    header = os.environ.get("CRM_TRUSTED_HEADER")
    if header:
        actor = auth.external_login(db, st.context.headers.get(header), source="header")
        if actor is not None:
            return actor, "header"
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        name = st.user.get("email") or st.user.get("preferred_username")
        actor = auth.external_login(db, name, source="oidc")
        if actor is not None:
            return actor, "oidc"
    return None


def current_actor(db: Database) -> Actor | None:
    """The signed-in user of this browser session, or None.

    In order: this session's sign-in (checked against the server-side session,
    so a logout elsewhere or an expiry ends it), the signed token in the
    session cookie (a page reload), a trusted proxy header, single sign-on.
    """
    login = st.session_state.get("actor_login")
    if login:
        sid = st.session_state.get("auth_sid")
        if sid and tokens.active_user_id(db, sid) is None:
            _forget()
            return None
        try:
            return load_actor(db, login)
        except CrmError:
            _forget()
            return None
    token = st.context.cookies.get(COOKIE)
    if token and not st.session_state.get("signed_out"):
        found = auth.resume_session(db, token)
        if found is not None:
            sid, actor = found
            st.session_state.update(actor_login=actor.login, auth_sid=sid, auth_source="password")
            return actor
    external = _external_actor(db)
    if external is not None:
        remember(db, external[0], source=external[1])
        return external[0]
    return None


def sign_out(db: Database) -> None:
    """End the session here and on the server; a replayed token no longer works."""
    actor = current_actor(db)
    source = st.session_state.get("auth_source")
    auth.logout(db, actor, st.session_state.get("auth_sid"))
    _forget()
    st.session_state["signed_out"] = True
    if source == "oidc":
        st.logout()


def _leave_pages_directory_mode() -> None:
    """Make app.py run first, also on the first visit after the server starts.

    Until some session has run app.py's st.navigation, Streamlit treats pages/
    as an old-style page directory and would run a page file directly (no
    sign-in gate, menu or sign-out button from app.py). Switch that off and rerun.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no such mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_setup() -> tuple[Database, Actor]:
    """Every page starts here: the database and the signed-in user, or a stop."""
    _leave_pages_directory_mode()
    db = get_db()
    actor = current_actor(db)
    if actor is None:
        # Normally app.py shows only the sign-in page to visitors. A page file can
        # still run on its own (the first visit after the server starts, AppTest):
        # it refuses too, and offers the sign-in form right here.
        from ui.login import login_view

        st.warning(t("login.required"))
        login_view()
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
