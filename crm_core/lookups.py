"""Small reads shared by pages: choices for filters and pickers, names for ids."""

from __future__ import annotations

from typing import Any

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database


def filter_options(db: Database, actor: Actor) -> dict[str, Any]:
    """The values the shared filters offer, limited to what the actor may see."""
    scope, params = owner_scope(actor, "id")
    owners = db.query(
        f"SELECT id, display_name FROM users WHERE role IN ('rep', 'manager') AND {scope} ORDER BY display_name",
        params,
    )
    return {
        "owners": owners,
        "departments": db.query("SELECT id, name FROM departments ORDER BY name"),
        "products": db.query("SELECT id, name FROM products WHERE active ORDER BY name"),
        "regions": [r[0] for r in db.rows(
            "SELECT DISTINCT region FROM accounts WHERE region IS NOT NULL ORDER BY 1")],
        "sources": [r[0] for r in db.rows(
            "SELECT DISTINCT source FROM opportunities WHERE source IS NOT NULL ORDER BY 1")],
    }


def stages(db: Database, actor: Actor | None = None) -> pl.DataFrame:
    """The configured stages in pipeline order (the same for every user; `actor` lets pages cache it per user)."""
    return db.query(
        "SELECT id, name, position, probability, forecast_category, is_won, is_lost, playbook, version "
        "FROM stages WHERE active ORDER BY position"
    )


def users(db: Database) -> pl.DataFrame:
    return db.query(
        "SELECT u.id, u.login, u.display_name, u.role, u.department_id, d.name AS department, u.region, u.active "
        "FROM users u LEFT JOIN departments d ON d.id = u.department_id ORDER BY u.display_name"
    )
