"""Running pages under Streamlit's AppTest as a signed-in user."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def db_rows(path: Path | str, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query on the app's database file (opened, read, closed: the page's server keeps no lock)."""
    from crm_core.db import Database

    db = Database(path, migrate=False)
    try:
        return db.rows(sql, params)
    finally:
        db.close()


def db_scalar(path: Path | str, sql: str, params: list | None = None):
    """The first value of `db_rows`, or None when the query returns no row."""
    rows = db_rows(path, sql, params)
    return rows[0][0] if rows else None


def run_page(page: str, login: str | None = "admin", *, timeout: float = 60) -> AppTest:
    """Run pages/<page> (or app.py) with `login` signed in; returns the AppTest."""
    path = ROOT / ("app.py" if page == "app.py" else f"pages/{page}")
    at = AppTest.from_file(str(path), default_timeout=timeout)
    if login:
        at.session_state["actor_login"] = login
    at.run()
    return at


def texts(at: AppTest) -> str:
    """Every piece of text on the page, joined, for 'the user sees X' assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info",
                 "success", "metric"):
        for el in getattr(at, kind, []):
            parts.append(str(getattr(el, "value", "")))
            label = getattr(el, "label", None)
            if label:
                parts.append(str(label))
    return "\n".join(parts)
