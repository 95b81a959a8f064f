"""The audit log: every write records who, when, what, before and after.

`record` must be called with the transaction's cursor, inside the same
`Database.atomic()` block as the write, so a write and its audit row commit or
roll back together.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crm_core.access import Actor, require_role
from crm_core.db import Database, dumps


def record(
    cur: Any,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    cur.execute(
        "INSERT INTO audit_log (user_id, user_login, action, entity, entity_id, before, after, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            actor.id,
            actor.login,
            action,
            entity,
            entity_id,
            dumps(before) if before is not None else None,
            dumps(after) if after is not None else None,
            note,
        ],
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only the keys whose values differ, for compact before/after images."""
    return {k: v for k, v in after.items() if before.get(k) != v}


def list_entries(
    db: Database,
    actor: Actor,
    *,
    user_login: str | None = None,
    entity: str | None = None,
    date_from: Any = None,
    date_to: Any = None,
    limit: int = 5000,
) -> pl.DataFrame:
    """Audit entries, newest first; admins only."""
    require_role(actor, ("admin",), "read the audit log")
    return db.query(
        """
        SELECT id, logged_at, user_login, action, entity, entity_id, before::VARCHAR AS before,
               after::VARCHAR AS after, note
        FROM audit_log
        WHERE ($login IS NULL OR user_login = $login)
          AND ($entity IS NULL OR entity = $entity)
          AND ($from IS NULL OR logged_at >= $from::DATE)
          AND ($to IS NULL OR logged_at < $to::DATE + INTERVAL 1 DAY)
        ORDER BY id DESC
        LIMIT $limit
        """,
        {"login": user_login, "entity": entity, "from": date_from, "to": date_to, "limit": limit},
    )
