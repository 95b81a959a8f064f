"""The audit log: every write records who, when, what, before and after.

`record` must be called with the transaction's cursor, inside the same
`Database.atomic()` block as the write, so a write and its audit row commit or
roll back together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    action: str | None = None,
    entity_id: int | None = None,
    date_from: Any = None,
    date_to: Any = None,
    limit: int | None = 5000,
) -> pl.DataFrame:
    """Audit entries, newest first; admins only. `limit=None` returns every matching entry."""
    require_role(actor, ("admin",), "read the audit log")
    return db.query(
        """
        SELECT id, logged_at, user_login, action, entity, entity_id, before::VARCHAR AS before,
               after::VARCHAR AS after, note
        FROM audit_log
        WHERE ($login IS NULL OR user_login = $login)
          AND ($entity IS NULL OR entity = $entity)
          AND ($action IS NULL OR action = $action)
          AND ($entity_id IS NULL OR entity_id = $entity_id)
          AND ($from IS NULL OR logged_at >= $from::DATE)
          AND ($to IS NULL OR logged_at < $to::DATE + INTERVAL 1 DAY)
        ORDER BY id DESC
        LIMIT $limit
        """,
        {"login": user_login, "entity": entity, "action": action, "entity_id": entity_id, "from": date_from,
         "to": date_to, "limit": limit},
    )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv(df: pl.DataFrame) -> str:
    """CSV text of `df` with every text cell (and header) made formula-safe."""
    import polars as pl

    text_cols = [c for c, t in df.schema.items() if t == pl.String]
    risky = r"^[=+\-@\t\r]"
    safe = df.with_columns(
        pl.when(pl.col(c).str.contains(risky)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text_cols
    ).rename({c: str(formula_safe(c)) for c in df.columns})
    return safe.write_csv()


def filter_choices(db: Database, actor: Actor) -> dict[str, list[str]]:
    """The user logins and entities that occur in the log, for the page's filters (admins only)."""
    require_role(actor, ("admin",), "read the audit log")
    return {
        "users": [r[0] for r in db.rows(
            "SELECT DISTINCT user_login FROM audit_log WHERE user_login IS NOT NULL ORDER BY 1")],
        "entities": [r[0] for r in db.rows("SELECT DISTINCT entity FROM audit_log ORDER BY 1")],
        "actions": [r[0] for r in db.rows("SELECT DISTINCT action FROM audit_log ORDER BY 1")],
    }


def export_csv(db: Database, actor: Actor, **filters: Any) -> str:
    """Every entry matching the filters (not only the rows on screen) as formula-safe CSV (admins only)."""
    return safe_csv(list_entries(db, actor, **{"limit": None, **filters}))
