"""Customer lifecycle: lead, prospect, customer, dormant, churned, by rules a user can read.

With "last purchase" = the later of the account's last order date and its last
won deal's close date (as of `today`):
1. no purchase and no opportunity          -> lead
2. no purchase, at least one opportunity   -> prospect
3. last purchase within `lifecycle.dormant_after_days` days  -> customer
4. last purchase older than that, within `lifecycle.churned_after_days` -> dormant
5. last purchase older than `lifecycle.churned_after_days` days -> churned
Exactly 180 days (the default) since the last purchase is still a customer;
181 is dormant. Winning a deal makes the account a customer at once
(crm_core.opportunities); `update_all` applies the rules to every account
daily (app start) and from the Pipeline page.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core import hooks, settings
from crm_core.access import Actor, require_role
from crm_core.db import Database

STAGES = ("lead", "prospect", "customer", "dormant", "churned")


def rule_days(db: Database) -> dict[str, int]:
    """The day counts the rules use, for showing the rules in words."""
    dormant = int(settings.get(db, "lifecycle.dormant_after_days"))
    return {"dormant": dormant, "dormant_next": dormant + 1,
            "churned": int(settings.get(db, "lifecycle.churned_after_days"))}


_COMPUTE = """
    WITH buys AS (
        SELECT account_id, max(d) AS last_buy FROM (
            SELECT account_id, order_date AS d FROM orders WHERE order_date <= $today
            UNION ALL
            SELECT account_id, closed_at FROM opportunities WHERE status = 'won' AND closed_at <= $today
        ) GROUP BY account_id
    ), deals AS (
        SELECT DISTINCT account_id FROM opportunities WHERE created_at::DATE <= $today
    )
    SELECT a.id, a.lifecycle AS old,
           CASE WHEN b.last_buy IS NULL AND d.account_id IS NULL THEN 'lead'
                WHEN b.last_buy IS NULL THEN 'prospect'
                WHEN date_diff('day', b.last_buy, $today) <= $dormant THEN 'customer'
                WHEN date_diff('day', b.last_buy, $today) <= $churned THEN 'dormant'
                ELSE 'churned' END AS new
    FROM accounts a
    LEFT JOIN buys b ON b.account_id = a.id
    LEFT JOIN deals d ON d.account_id = a.id
    WHERE a.merged_into_id IS NULL
"""


def compute(db: Database, *, today: date | None = None) -> pl.DataFrame:
    """Every account's current and rule-given lifecycle stage (id, old, new)."""
    return db.query(_COMPUTE, _params(db, today))


def _params(db: Database, today: date | None) -> dict:
    return {"today": today or date.today(), "dormant": int(settings.get(db, "lifecycle.dormant_after_days")),
            "churned": int(settings.get(db, "lifecycle.churned_after_days"))}


def update_all(db: Database, actor: Actor | None = None, *, today: date | None = None) -> dict[str, int]:
    """Apply the rules to every account; returns how many moved into each stage."""
    actor = actor or Actor.system()
    require_role(actor, ("admin", "manager"), "update lifecycle stages")
    with db.atomic() as cur:
        changed = cur.sql(f"SELECT id, old, new FROM ({_COMPUTE}) WHERE old <> new",
                          params=_params(db, today)).pl()
        if changed.height == 0:
            return {}
        cur.register("_lifecycle", changed.to_arrow())
        try:
            cur.execute("UPDATE accounts SET lifecycle = c.new FROM _lifecycle c WHERE accounts.id = c.id")
            cur.execute(
                "INSERT INTO audit_log (user_id, user_login, action, entity, entity_id, before, after, note) "
                "SELECT ?, ?, 'lifecycle', 'account', id, json_object('lifecycle', old), "
                "json_object('lifecycle', new), 'lifecycle rules' FROM _lifecycle", [actor.id, actor.login])
        finally:
            cur.unregister("_lifecycle")
        hooks.notify(db, "accounts", changed["id"].to_list())  # marks commit with the changes (see hooks)
    counts = changed.group_by("new").len()
    return dict(zip(counts["new"].to_list(), counts["len"].to_list()))


def counts(db: Database, actor: Actor) -> pl.DataFrame:
    """Visible accounts per lifecycle stage, in lifecycle order."""
    from crm_core.access import owner_scope

    scope, sp = owner_scope(actor, "owner_id", include_pool=True)
    return db.query(
        f"""
        SELECT s.lifecycle, coalesce(c.n, 0) AS accounts
        FROM (SELECT unnest(?::VARCHAR[]) AS lifecycle, generate_subscripts(?::VARCHAR[], 1) AS pos) s
        LEFT JOIN (SELECT lifecycle, count(*) AS n FROM accounts WHERE merged_into_id IS NULL AND {scope}
                   GROUP BY lifecycle) c ON c.lifecycle = s.lifecycle
        ORDER BY s.pos
        """,
        [list(STAGES), list(STAGES), *sp],
    )
