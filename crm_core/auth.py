"""Logging in: users stored in the database, passwords hashed with argon2."""

from __future__ import annotations

from crm_core.access import Actor, load_actor
from crm_core.db import Database
from crm_core.errors import CrmError
from crm_core.passwords import verify_password


class LoginFailed(CrmError):
    """Wrong login or password (deliberately not saying which)."""


def authenticate(db: Database, login: str, password: str) -> Actor:
    row = db.one("SELECT password_hash, active FROM users WHERE login = ?", [login.strip()])
    if row is None or not row["active"] or not verify_password(row["password_hash"], password):
        raise LoginFailed("Wrong login name or password.")
    return load_actor(db, login.strip())
