"""Signing in: passwords (argon2), lock-out, the first admin, single sign-on mapping.

Rules (settings, see `docs/security.md`):
- `auth.max_failed_logins` (default 5) wrong passwords in a row lock the
  account for `auth.lockout_minutes` (default 15); while locked even the right
  password is refused, and the message says how long is left. A successful
  sign-in resets the count; an admin can unlock at once (`users.unlock`).
- An empty database has no users: the first admin is created by the sign-in
  page's form or from `CRM_ADMIN_PASSWORD` (login `CRM_ADMIN_LOGIN`, default
  "admin") at start-up.
- Single sign-on (OIDC through `st.login`) and a reverse proxy's trusted header
  only name a user; `external_login` maps that name to an active user by login
  or e-mail and never creates one.

Every sign-in, failure, lock-out and sign-out is written to the audit log.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta

from crm_core import audit, settings, tokens
from crm_core.access import Actor, load_actor
from crm_core.db import Database
from crm_core.errors import CrmError, ValidationError
from crm_core.passwords import hash_password, needs_rehash, verify_password

DEFAULT_MAX_FAILED = 5
DEFAULT_LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 8
_dummy_hash: list[str] = []


def _spend_a_verify(password: str) -> None:
    """Verify against a real hash when the login is unknown: the answer takes as long
    as for a real user, so timing does not reveal which login names exist."""
    if not _dummy_hash:
        _dummy_hash.append(hash_password("not-a-real-password"))
    verify_password(_dummy_hash[0], password)


class LoginFailed(CrmError):
    """Wrong login or password (deliberately not saying which)."""


class AccountLocked(LoginFailed):
    """Too many wrong passwords; `minutes_left` until it opens again."""

    def __init__(self, message: str, *, minutes_left: int):
        super().__init__(message)
        self.minutes_left = minutes_left


def _int_setting(db: Database, key: str, default: int) -> int:
    try:
        value = int(settings.get(db, key))
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


def lockout_policy(db: Database) -> tuple[int, int]:
    """(wrong passwords allowed in a row, minutes locked)."""
    return (_int_setting(db, "auth.max_failed_logins", DEFAULT_MAX_FAILED),
            _int_setting(db, "auth.lockout_minutes", DEFAULT_LOCKOUT_MINUTES))


def _locked_message(minutes_left: int) -> str:
    unit = "minute" if minutes_left == 1 else "minutes"
    return (f"This account is locked after too many wrong passwords. Try again in {minutes_left} {unit}, "
            "or ask an admin to unlock it.")


def _minutes_left(locked_until: datetime, now: datetime) -> int:
    return max(1, math.ceil((locked_until - now).total_seconds() / 60))


def _user_actor(row: dict) -> Actor:
    return Actor(id=row["id"], login=row["login"], role=row["role"], display_name=row.get("display_name") or "")


def authenticate(db: Database, login: str, password: str, *, now: datetime | None = None) -> Actor:
    """The Actor for a correct login and password; raises LoginFailed / AccountLocked otherwise."""
    now = now or tokens.utcnow()
    login = (login or "").strip()
    max_failed, lock_minutes = lockout_policy(db)
    row = db.one(
        "SELECT id, login, role, display_name, password_hash, active, failed_logins, locked_until "
        "FROM users WHERE login = ?",
        [login],
    )
    if row is None or not row["active"]:
        _spend_a_verify(password or "")
        with db.atomic() as cur:
            audit.record(cur, Actor(id=row["id"] if row else None, login=login[:100], role="rep"),
                         "login_failed", "user", row["id"] if row else None,
                         note="unknown login" if row is None else "user is deactivated")
        raise LoginFailed("Wrong login name or password.")
    if row["locked_until"] is not None and row["locked_until"] > now:
        # Do not even check the password: a locked account cannot be guessed at.
        raise AccountLocked(_locked_message(_minutes_left(row["locked_until"], now)),
                            minutes_left=_minutes_left(row["locked_until"], now))
    who = _user_actor(row)
    if not verify_password(row["password_hash"], password or ""):
        failed = row["failed_logins"] + 1  # reset to 0 when a lock starts, so a lock that ran out counts afresh
        locked_until = now + timedelta(minutes=lock_minutes) if failed >= max_failed else None
        with db.atomic() as cur:
            # failed_logins is bookkeeping, not an edit: it leaves the row's version alone
            # so an admin editing the user is not refused as stale by a stranger's guesses.
            cur.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                        [0 if locked_until else failed, locked_until, row["id"]])
            audit.record(cur, who, "login_failed", "user", row["id"], note=f"wrong password ({failed} in a row)")
            if locked_until:
                audit.record(cur, who, "lock", "user", row["id"],
                             after={"locked_until": locked_until}, note=f"{failed} wrong passwords")
        if locked_until:
            raise AccountLocked(_locked_message(lock_minutes), minutes_left=lock_minutes)
        left = max_failed - failed
        raise LoginFailed(f"Wrong login name or password. {left} more wrong attempt(s) will lock the account "
                          f"for {lock_minutes} minutes." if left <= 2 else "Wrong login name or password.")
    with db.atomic() as cur:
        cur.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [row["id"]])
        if needs_rehash(row["password_hash"]):  # stronger or cheaper parameters since it was set
            cur.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hash_password(password), row["id"]])
        audit.record(cur, who, "login", "user", row["id"], note="password")
    return load_actor(db, login)


def start_session(db: Database, actor: Actor, *, source: str = "password",
                  now: datetime | None = None) -> tokens.Session:
    """A signed session token for a signed-in actor (kept by the browser across reloads)."""
    if actor.id is None:
        raise ValidationError("The system actor cannot sign in to the app.")
    return tokens.issue(db, actor.id, source=source, now=now)


def resume_session(db: Database, token: str | None, *, now: datetime | None = None) -> tuple[str, Actor] | None:
    """(session id, Actor) for a valid token of a live session, else None."""
    found = tokens.user_for_token(db, token, now=now)
    if found is None:
        return None
    sid, user_id = found
    login = db.scalar("SELECT login FROM users WHERE id = ? AND active", [user_id])
    if login is None:
        return None
    return sid, load_actor(db, login)


def logout(db: Database, actor: Actor | None, sid: str | None) -> None:
    """End the session server-side and note it in the audit log."""
    with db.atomic() as cur:
        if sid:
            tokens.revoke(db, sid, cur=cur)
        if actor is not None and actor.id is not None:
            audit.record(cur, actor, "logout", "user", actor.id)


def external_login(db: Database, name: str | None, *, source: str) -> Actor | None:
    """The active user a single sign-on identity or trusted header names (login or e-mail); else None.

    Never creates users: an admin adds them first, so a valid identity at the
    identity provider does not by itself open Panorama.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        return None
    row = db.one(
        "SELECT login FROM users WHERE active AND (login = ? OR lower(email) = lower(?)) ORDER BY login = ? DESC LIMIT 1",
        [name, name, name],
    )
    if row is None:
        return None
    actor = load_actor(db, row["login"])
    with db.atomic() as cur:
        audit.record(cur, actor, "login", "user", actor.id, note=source)
    return actor


def demo_password_active(db: Database) -> bool:
    """True while the demo admin still signs in with the published demo password.

    The sign-in page shows the demo hint only then, so a real installation
    never advertises a password.
    """
    from crm_core.demo import DEMO_PASSWORD

    row = db.one("SELECT password_hash FROM users WHERE login = 'admin' AND active")
    return bool(row) and verify_password(row["password_hash"], DEMO_PASSWORD)


def needs_first_admin(db: Database) -> bool:
    """True while the database has no user who could sign in and add others."""
    return not db.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND active")


def check_password_strength(password: str, *, login: str = "") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password is too short: at least {MIN_PASSWORD_LENGTH} characters are needed.",
                              field="password")
    if login and password.strip().lower() == login.strip().lower():
        raise ValidationError("The password must not be the login name.", field="password")


def create_first_admin(db: Database, login: str, password: str, display_name: str = "Administrator") -> Actor:
    """Create the first admin of an empty database; refused once any admin exists."""
    from crm_core import users

    check_password_strength(password, login=login)
    with db.atomic():
        if not needs_first_admin(db):
            raise CrmError("An admin already exists: sign in, or ask them to add you.")
        users.create_user(db, Actor.system(), login=login, display_name=display_name or login,
                          role="admin", password=password)
    return load_actor(db, login.strip())


def ensure_admin_from_env(db: Database) -> bool:
    """At start-up: create the first admin from CRM_ADMIN_PASSWORD when no admin exists. True if created."""
    password = os.environ.get("CRM_ADMIN_PASSWORD")
    if not password or not needs_first_admin(db):
        return False
    login = os.environ.get("CRM_ADMIN_LOGIN", "admin")
    if db.scalar("SELECT count(*) FROM users WHERE login = ?", [login]):
        return False  # an inactive or demoted user holds that name: leave it to the first-admin form
    create_first_admin(db, login, password)
    return True
