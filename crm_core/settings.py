"""Low-code configuration stored in the `settings` table as JSON per key.

`DEFAULTS` documents every key; a key missing from the table reads as its
default, so new settings need no migration.
"""

from __future__ import annotations

import json
from typing import Any

from crm_core import audit
from crm_core.access import Actor, require_role
from crm_core.db import Database, dumps
from crm_core.errors import StaleEditError

DEFAULTS: dict[str, Any] = {
    "currency": "CNY",
    "language": "en",
    "fiscal_year_start_month": 1,
    # Public pool
    "pool.return_after_days": 30,        # no follow-up for this many days -> back to the pool
    "pool.daily_claim_limit": 5,
    "pool.reclaim_cooldown_days": 7,     # a former owner waits this long before claiming again
    "pool.warn_days": 3,
    "pool.assignment_rules": [],         # [{"kind": "region"|"industry"|"round_robin", "match": str, "team_id": int, "user_id": int}]
    # Reminders
    "reminders.stale_stage_days": 21,
    "reminders.payment_due_days": 7,
    # Lifecycle
    "lifecycle.dormant_after_days": 180,
    "lifecycle.churned_after_days": 365,
    # Value ranking weights (0..1 each, normalised on use)
    "value.weights": {},
}


# Sign-in policy (lock-out, session length) is for admins alone, whatever the form shows.
ADMIN_ONLY_PREFIXES = ("auth.",)


def get(db: Database, key: str) -> Any:
    raw = db.scalar("SELECT value FROM settings WHERE key = ?", [key])
    if raw is None:
        return DEFAULTS.get(key)
    return json.loads(raw)


def get_all(db: Database) -> dict[str, Any]:
    stored = {k: json.loads(v) for k, v in db.rows("SELECT key, value FROM settings")}
    return {**DEFAULTS, **stored}


def put(db: Database, actor: Actor, key: str, value: Any, *, expected_version: int | None = None) -> int:
    """Store a setting (admins and managers). Returns the new version.

    With `expected_version`, a setting changed by someone else since it was
    read is refused instead of overwritten.
    """
    require_role(actor, ("admin", "manager"), "change settings")
    if key.startswith(ADMIN_ONLY_PREFIXES):
        require_role(actor, ("admin",), f"change the setting {key}")
    with db.atomic() as cur:
        row = cur.execute("SELECT value, version FROM settings WHERE key = ?", [key]).fetchone()
        before = json.loads(row[0]) if row else DEFAULTS.get(key)
        if row is None:
            if expected_version not in (None, 0):
                raise StaleEditError(f"The setting {key} was removed by someone else.", current={})
            cur.execute(
                "INSERT INTO settings (key, value, updated_by) VALUES (?, ?, ?)", [key, dumps(value), actor.id]
            )
            version = 1
        else:
            if expected_version is not None and expected_version != row[1]:
                raise StaleEditError(
                    f"The setting {key} was changed by someone else since you opened it.",
                    current={"value": before, "version": row[1]},
                )
            version = row[1] + 1
            cur.execute(
                "UPDATE settings SET value = ?, version = ?, updated_at = current_timestamp, updated_by = ? WHERE key = ?",
                [dumps(value), version, actor.id, key],
            )
        audit.record(cur, actor, "update", "settings", None, before={key: before}, after={key: value})
    return version


def version_of(db: Database, key: str) -> int:
    return db.scalar("SELECT version FROM settings WHERE key = ?", [key]) or 0
