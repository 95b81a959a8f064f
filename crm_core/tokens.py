"""Signed, expiring, revocable session tokens: a sign-in that survives a page reload.

A token is `v1.<session id>.<expiry, unix seconds>.<HMAC-SHA256 signature>`.
The signature (a key generated on first use and kept in the database, or
`CRM_SECRET_KEY` when set) makes a token impossible to forge or to extend; the
expiry ends it after `auth.session_hours`; the server-side `auth_sessions` row
lets a logout (or a password reset, or deactivating the user) end it at once,
even if someone kept a copy of the token. The database stores only the
SHA-256 of the session id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm_core import settings
from crm_core.db import Database

SECRET_NAME = "session_hmac_key"
DEFAULT_SESSION_HOURS = 8.0
_keys: dict[str, bytes] = {}
_keys_lock = threading.Lock()


def utcnow() -> datetime:
    """Naive UTC: the one clock every sign-in timestamp uses."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Session:
    sid: str
    user_id: int
    expires_at: datetime
    token: str


def _secret(db: Database) -> bytes:
    env = os.environ.get("CRM_SECRET_KEY")
    if env:
        return env.encode()
    with _keys_lock:
        key = _keys.get(db.path)
        if key is None:
            with db.atomic() as cur:
                row = cur.execute("SELECT value FROM app_secrets WHERE name = ?", [SECRET_NAME]).fetchone()
                if row is None:
                    value = secrets.token_urlsafe(48)
                    cur.execute("INSERT INTO app_secrets (name, value) VALUES (?, ?)", [SECRET_NAME, value])
                else:
                    value = row[0]
            key = _keys[db.path] = value.encode()
        return key


def _sign(key: bytes, payload: str) -> str:
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def session_hours(db: Database) -> float:
    value = settings.get(db, "auth.session_hours")
    try:
        hours = float(value) if value is not None else DEFAULT_SESSION_HOURS
    except (TypeError, ValueError):
        hours = DEFAULT_SESSION_HOURS
    return hours if hours > 0 else DEFAULT_SESSION_HOURS


def issue(db: Database, user_id: int, *, source: str = "password", now: datetime | None = None,
          hours: float | None = None) -> Session:
    """Start a session for `user_id` and return it with its signed token."""
    now = now or utcnow()
    expires = now + timedelta(hours=hours if hours is not None else session_hours(db))
    sid = secrets.token_urlsafe(24)
    with db.atomic() as cur:
        cur.execute(
            "INSERT INTO auth_sessions (sid_hash, user_id, source, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            [_hash_sid(sid), user_id, source, now, expires],
        )
        # Housekeeping: sessions over a day past their end are of no further use.
        cur.execute("DELETE FROM auth_sessions WHERE expires_at < ?", [now - timedelta(days=1)])
    exp = int(expires.replace(tzinfo=UTC).timestamp())
    payload = f"v1.{sid}.{exp}"
    return Session(sid=sid, user_id=user_id, expires_at=expires, token=f"{payload}.{_sign(_secret(db), payload)}")


def parse(db: Database, token: str | None, *, now: datetime | None = None) -> str | None:
    """The session id of a well-formed, correctly signed, unexpired token; else None."""
    if not token or not isinstance(token, str) or len(token) > 400:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "v1":
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _sign(_secret(db), payload)):
        return None
    try:
        exp = int(parts[2])
    except ValueError:
        return None
    now = now or utcnow()
    if exp <= int(now.replace(tzinfo=UTC).timestamp()):
        return None
    return parts[1]


def active_user_id(db: Database, sid: str, *, now: datetime | None = None) -> int | None:
    """The user of a live session (not revoked, not expired, user still active); else None."""
    row = db.one(
        "SELECT s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.sid_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.active",
        [_hash_sid(sid), now or utcnow()],
    )
    return row["user_id"] if row else None


def user_for_token(db: Database, token: str | None, *, now: datetime | None = None) -> tuple[str, int] | None:
    """(session id, user id) for a valid token of a live session; else None."""
    sid = parse(db, token, now=now)
    if sid is None:
        return None
    uid = active_user_id(db, sid, now=now)
    return (sid, uid) if uid is not None else None


def revoke(db: Database, sid: str, *, cur=None, now: datetime | None = None) -> None:
    """End one session (logout)."""
    if cur is None:
        with db.atomic() as tx:
            return revoke(db, sid, cur=tx, now=now)
    cur.execute("UPDATE auth_sessions SET revoked_at = ? WHERE sid_hash = ? AND revoked_at IS NULL",
                [now or utcnow(), _hash_sid(sid)])
    return None


def revoke_user(cur, user_id: int, *, now: datetime | None = None) -> None:
    """End every session of a user (password reset, deactivation, role change), inside the caller's transaction."""
    cur.execute("UPDATE auth_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                [now or utcnow(), user_id])
