"""Account groups and relationship graphs (the full diagrams arrive with their own work)."""

from __future__ import annotations

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database


def account_group(db: Database, actor: Actor, account_id: int, *, depth: int = 5) -> pl.DataFrame:
    """Every account connected to `account_id` through parent/subsidiary lines, up to `depth` steps."""
    return db.query(
        """
        WITH RECURSIVE walk(id, depth, path) AS (
            SELECT ?::BIGINT, 0, [?::BIGINT]
            UNION ALL
            SELECT n.other, w.depth + 1, list_append(w.path, n.other)
            FROM walk w
            JOIN (SELECT id AS a, parent_id AS other FROM accounts WHERE parent_id IS NOT NULL
                  UNION ALL SELECT parent_id, id FROM accounts WHERE parent_id IS NOT NULL) n ON n.a = w.id
            WHERE w.depth < ? AND NOT list_contains(w.path, n.other)
        )
        SELECT a.id, a.name, min(w.depth) AS depth, a.parent_id, a.industry, a.region, u.display_name AS owner
        FROM walk w JOIN accounts a ON a.id = w.id LEFT JOIN users u ON u.id = a.owner_id
        GROUP BY ALL ORDER BY depth, a.name
        """,
        [account_id, account_id, depth],
    )
