"""Users, roles and departments: managed by admins, every change versioned and audited.

Guards that keep the system usable: the last active admin cannot be demoted or
deactivated, nobody deactivates themself, and a deactivated user's sessions end
at once. Password hashes never enter the audit log (only that a reset happened).
Department moves are written to `user_department_history`, so actuals stay
credited to the department a deal was won in.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl

from crm_core import audit, records, settings, tokens
from crm_core.access import ROLES, Actor, owner_scope, require_role
from crm_core.db import Database, quote_ident
from crm_core.errors import CrmError, DuplicateError, NotFound, StaleEditError, ValidationError
from crm_core.passwords import hash_password

LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EDITABLE = ("display_name", "email", "role", "department_id", "region", "manager_id", "active")
AUTH_SETTINGS = {  # key: (default, minimum, maximum)
    "auth.max_failed_logins": (5, 1, 100),
    "auth.lockout_minutes": (15, 1, 24 * 60),
    "auth.session_hours": (8, 0.25, 24 * 90),
}


def _admin(actor: Actor, what: str) -> None:
    require_role(actor, ("admin",), what)


def list_users(db: Database, actor: Actor) -> pl.DataFrame:
    """Every user with role, department, state and lock (admins only)."""
    _admin(actor, "manage users")
    return db.query(
        """
        SELECT u.id, u.login, u.display_name, u.email, u.role, u.department_id, d.name AS department,
               u.region, u.manager_id, m.display_name AS manager, u.active,
               u.locked_until IS NOT NULL AND u.locked_until > ? AS locked, u.locked_until, u.failed_logins,
               u.version
        FROM users u
        LEFT JOIN departments d ON d.id = u.department_id
        LEFT JOIN users m ON m.id = u.manager_id
        ORDER BY u.active DESC, u.role, u.login
        """,
        [tokens.utcnow()],
    )


def list_team(db: Database, actor: Actor) -> pl.DataFrame:
    """A manager's people (their department, sub-teams and direct reports): read-only, no sign-in details."""
    require_role(actor, ("admin", "manager"), "see a team")
    scope, params = owner_scope(actor, "u.id")
    return db.query(
        f"""
        SELECT u.login, u.display_name, u.email, u.role, d.name AS department, u.region, u.active
        FROM users u LEFT JOIN departments d ON d.id = u.department_id
        WHERE {scope} ORDER BY u.active DESC, u.display_name
        """,
        params,
    )


def list_departments(db: Database, actor: Actor) -> pl.DataFrame:
    _admin(actor, "manage departments")
    return db.query(
        """
        SELECT d.id, d.name, d.parent_id, p.name AS parent, d.region, d.manager_id, m.display_name AS manager,
               (SELECT count(*) FROM users u WHERE u.department_id = d.id AND u.active) AS people, d.version
        FROM departments d
        LEFT JOIN departments p ON p.id = d.parent_id
        LEFT JOIN users m ON m.id = d.manager_id
        ORDER BY d.name
        """
    )


def get_user(db: Database, user_id: int) -> dict[str, Any]:
    row = db.one("SELECT * FROM users WHERE id = ?", [user_id])
    if row is None:
        raise NotFound(f"User {user_id} does not exist.")
    return row


def user_id_by_login(db: Database, login: str) -> int:
    uid = db.scalar("SELECT id FROM users WHERE login = ?", [(login or "").strip()])
    if uid is None:
        raise NotFound(f"No user with login {login!r}.")
    return uid


# -- validation ------------------------------------------------------------
def _check_login(login: str) -> str:
    login = (login or "").strip()
    if not LOGIN_RE.match(login):
        raise ValidationError(
            f"Login {login[:80]!r} is not valid: use 2-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit.", field="login", value=login)
    return login


def _check_fields(cur: Any, changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(changes)
    if "display_name" in out:
        name = (out["display_name"] or "").strip()
        if not name or len(name) > 200:
            raise ValidationError("Display name is required (at most 200 characters).", field="display_name")
        out["display_name"] = name
    if "email" in out:
        email = (out["email"] or "").strip() or None
        if email and (len(email) > 254 or not EMAIL_RE.match(email)):
            raise ValidationError(f"E-mail {email[:80]!r} is not an e-mail address (expected name@example.com).",
                                  field="email", value=email)
        out["email"] = email
    if "role" in out and out["role"] not in ROLES:
        raise ValidationError(f"Role {out['role']!r} does not exist: choose one of {', '.join(ROLES)}.",
                              field="role", value=out["role"])
    if "region" in out:
        out["region"] = (out["region"] or "").strip()[:100] or None
    if out.get("department_id") is not None:
        out["department_id"] = int(out["department_id"])
        if not cur.execute("SELECT 1 FROM departments WHERE id = ?", [out["department_id"]]).fetchone():
            raise ValidationError(f"Department {out['department_id']} does not exist.", field="department_id")
    if out.get("manager_id") is not None:
        out["manager_id"] = int(out["manager_id"])
        if not cur.execute("SELECT 1 FROM users WHERE id = ?", [out["manager_id"]]).fetchone():
            raise ValidationError(f"Manager {out['manager_id']} is not a user.", field="manager_id")
    if "active" in out:
        out["active"] = bool(out["active"])
    return out


def _other_active_admins(cur: Any, user_id: int) -> int:
    return cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active AND id <> ?",
                       [user_id]).fetchone()[0]


def _move_department(cur: Any, user_id: int, department_id: int | None, today: date) -> None:
    # A second move on the same day replaces the first: two periods starting the same day
    # would make "their department on that date" ambiguous.
    cur.execute("DELETE FROM user_department_history WHERE user_id = ? AND valid_to IS NULL AND valid_from = ?",
                [user_id, today])
    cur.execute("UPDATE user_department_history SET valid_to = ? WHERE user_id = ? AND valid_to IS NULL",
                [today, user_id])
    if department_id is not None:
        cur.execute("INSERT INTO user_department_history (user_id, department_id, valid_from) VALUES (?, ?, ?)",
                    [user_id, department_id, today])


# -- writes ----------------------------------------------------------------
def create_user(db: Database, actor: Actor, *, login: str, display_name: str, role: str,
                password: str | None = None, email: str | None = None, department_id: int | None = None,
                region: str | None = None, manager_id: int | None = None) -> dict[str, Any]:
    """Add a user (admins). Without a password they cannot sign in until one is set."""
    from crm_core.auth import check_password_strength

    _admin(actor, "add users")
    login = _check_login(login)
    if password is not None:
        check_password_strength(password, login=login)
    with db.atomic() as cur:
        fields = _check_fields(cur, {"display_name": display_name, "email": email, "role": role,
                                     "department_id": department_id, "region": region, "manager_id": manager_id})
        if cur.execute("SELECT 1 FROM users WHERE lower(login) = lower(?)", [login]).fetchone():
            raise DuplicateError(f"A user with login {login!r} already exists.")
        uid = cur.execute(
            "INSERT INTO users (login, display_name, email, role, department_id, region, manager_id, password_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [login, fields["display_name"], fields["email"], fields["role"], fields["department_id"],
             fields["region"], fields["manager_id"], hash_password(password) if password else None],
        ).fetchone()[0]
        if fields["department_id"] is not None:
            _move_department(cur, uid, fields["department_id"], date.today())
        audit.record(cur, actor, "create", "user", uid, after={"login": login, **fields})
        return records.fetch_row(cur, "users", uid) | {"password_hash": None}


def update_user(db: Database, actor: Actor, user_id: int, expected_version: int,
                changes: dict[str, Any]) -> dict[str, Any]:
    """Change a user's name, e-mail, role, department, region, manager or active flag (admins).

    Refused as stale when the user changed since `expected_version` was read.
    """
    _admin(actor, "change users")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"These user fields cannot be changed here: {', '.join(sorted(unknown))}.")
    with db.atomic() as cur:
        before = records.fetch_row(cur, "users", user_id)
        if before is None:
            raise NotFound(f"User {user_id} does not exist.")
        fields = _check_fields(cur, changes)
        demoted = fields.get("role", before["role"]) != "admin" or not fields.get("active", before["active"])
        if before["role"] == "admin" and before["active"] and demoted and not _other_active_admins(cur, user_id):
            raise ValidationError(f"{before['login']} is the last active admin: make someone else admin first.")
        if user_id == actor.id and fields.get("active", True) is False:
            raise ValidationError("You cannot deactivate yourself: ask another admin.")
        if fields.get("manager_id") is not None and fields["manager_id"] == user_id:
            raise ValidationError("A user cannot be their own manager.", field="manager_id")
        try:
            after = records.update_versioned(db, actor, "users", user_id, expected_version, fields, entity="user",
                                             cur=cur)
        except StaleEditError as exc:  # the current values are shown to the admin: never the password hash
            exc.current.pop("password_hash", None)
            raise
        if after.get("department_id") != before.get("department_id"):
            _move_department(cur, user_id, after.get("department_id"), date.today())
        if before["active"] and not after["active"]:
            tokens.revoke_user(cur, user_id)
    return after | {"password_hash": None}


def set_role(db: Database, actor: Actor, login: str, role: str) -> dict[str, Any]:
    """Change a user's role by login (the command line has no form to go stale)."""
    user = get_user(db, user_id_by_login(db, login))
    return update_user(db, actor, user["id"], user["version"], {"role": role})


def reset_password(db: Database, actor: Actor, user_id: int, password: str) -> None:
    """Set a new password (admins, or the user themself), unlock, and end the user's sessions."""
    from crm_core.auth import check_password_strength

    require_role(actor, ("admin",) if actor.id != user_id else ROLES, "reset other users' passwords")
    user = get_user(db, user_id)
    check_password_strength(password, login=user["login"])
    with db.atomic() as cur:
        cur.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, version = version + 1 "
            "WHERE id = ?", [hash_password(password), user_id])
        tokens.revoke_user(cur, user_id)
        audit.record(cur, actor, "reset_password", "user", user_id, note="password changed; sessions ended")


def change_own_password(db: Database, actor: Actor, current: str, new: str) -> None:
    """A signed-in user changes their password, proving they know the current one."""
    from crm_core.auth import LoginFailed
    from crm_core.passwords import verify_password

    if actor.id is None:
        raise CrmError("The system actor has no password.")
    if not verify_password(get_user(db, actor.id)["password_hash"], current):
        raise LoginFailed("The current password is wrong.")
    reset_password(db, actor, actor.id, new)


def unlock(db: Database, actor: Actor, user_id: int) -> None:
    """Lift a lock-out now (admins)."""
    _admin(actor, "unlock users")
    get_user(db, user_id)
    with db.atomic() as cur:
        cur.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [user_id])
        audit.record(cur, actor, "unlock", "user", user_id)


def create_department(db: Database, actor: Actor, *, name: str, parent_id: int | None = None,
                      region: str | None = None, manager_id: int | None = None) -> dict[str, Any]:
    _admin(actor, "add departments")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("Department name is required (at most 200 characters).", field="name")
    with db.atomic() as cur:
        if cur.execute("SELECT 1 FROM departments WHERE lower(name) = lower(?)", [name]).fetchone():
            raise DuplicateError(f"A department named {name!r} already exists.")
        for col, ref, table in (("parent_id", parent_id, "departments"), ("manager_id", manager_id, "users")):
            if ref is not None and not cur.execute(f"SELECT 1 FROM {quote_ident(table)} WHERE id = ?", [ref]).fetchone():
                raise ValidationError(f"{col} {ref} does not exist.", field=col)
        did = cur.execute(
            "INSERT INTO departments (name, parent_id, region, manager_id) VALUES (?, ?, ?, ?) RETURNING id",
            [name, parent_id, (region or "").strip() or None, manager_id]).fetchone()[0]
        after = records.fetch_row(cur, "departments", did)
        audit.record(cur, actor, "create", "department", did, after=after)
    return after


def update_department(db: Database, actor: Actor, department_id: int, expected_version: int,
                      changes: dict[str, Any]) -> dict[str, Any]:
    _admin(actor, "change departments")
    allowed = {"name", "parent_id", "region", "manager_id"}
    if set(changes) - allowed:
        raise ValidationError(f"These department fields cannot be changed: {', '.join(sorted(set(changes) - allowed))}.")
    clean = dict(changes)
    if "name" in clean:
        clean["name"] = (clean["name"] or "").strip()
        if not clean["name"]:
            raise ValidationError("Department name is required.", field="name")
    with db.atomic() as cur:
        if "name" in clean and cur.execute("SELECT 1 FROM departments WHERE lower(name) = lower(?) AND id <> ?",
                                           [clean["name"], department_id]).fetchone():
            raise DuplicateError(f"A department named {clean['name']!r} already exists.")
        if clean.get("parent_id") is not None:
            loop = cur.execute(
                """WITH RECURSIVE up(id) AS (SELECT ?::BIGINT UNION SELECT d.parent_id FROM departments d
                   JOIN up ON d.id = up.id WHERE d.parent_id IS NOT NULL) SELECT count(*) FROM up WHERE id = ?""",
                [clean["parent_id"], department_id]).fetchone()[0]
            if loop:
                raise ValidationError("A department cannot sit under itself or one of its own teams.",
                                      field="parent_id")
        return records.update_versioned(db, actor, "departments", department_id, expected_version, clean,
                                        entity="department", cur=cur)


def auth_settings(db: Database) -> dict[str, float]:
    return {k: settings.get(db, k) if settings.get(db, k) is not None else d for k, (d, _lo, _hi) in AUTH_SETTINGS.items()}


def set_auth_setting(db: Database, actor: Actor, key: str, value: float) -> None:
    """Lock-out and session length (admins only: managers may change other settings)."""
    _admin(actor, "change sign-in settings")
    if key not in AUTH_SETTINGS:
        raise ValidationError(f"Unknown sign-in setting {key!r}.")
    _default, lo, hi = AUTH_SETTINGS[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{key} must be a number, not {value!r}.", field=key, value=value) from None
    if not lo <= number <= hi:
        raise ValidationError(f"{key} must be between {lo} and {hi}, not {value}.", field=key, value=value)
    settings.put(db, actor, key, int(number) if number.is_integer() else number)
