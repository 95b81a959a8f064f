"""Reminders: what needs the rep's attention today.

- overdue follow-ups: open tasks whose due date is before today;
- returning to the pool: my accounts with at most `pool.warn_days` days left
  (see crm_core.pool);
- payments due: instalments not fully paid whose due date is from today to
  today + `reminders.payment_due_days` (7) days, inclusive;
- past expected close: open deals whose expected close is before today;
- stale in stage: open deals with no activity and no stage move for at least
  `reminders.stale_stage_days` days (days since the later of stage entry and
  last activity).
Each list holds only rows the actor may see.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core import pool, settings
from crm_core.access import Actor, owner_scope
from crm_core.db import Database

KINDS = ("overdue_followups", "returning_to_pool", "payments_due", "past_close", "stale_in_stage")


def overdue_followups(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    scope, sp = owner_scope(actor, "t.owner_id")
    return db.query(
        f"""
        SELECT t.id, t.due_date, date_diff('day', t.due_date, ?::DATE) AS days_overdue, t.subject,
               a.name AS account, t.version
        FROM activities t LEFT JOIN accounts a ON a.id = t.account_id
        WHERE NOT t.done AND t.due_date < ?::DATE AND {scope}
        ORDER BY t.due_date, t.id
        """,
        [today, today, *sp],
    )


def payments_due(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    days = int(settings.get(db, "reminders.payment_due_days"))
    scope, sp = owner_scope(actor, "c.owner_id")
    return db.query(
        f"""
        SELECT p.id, p.due_date, c.contract_no, a.name AS account, p.amount_due,
               p.amount_due - p.amount_paid AS outstanding
        FROM payments p JOIN contracts c ON c.id = p.contract_id LEFT JOIN accounts a ON a.id = c.account_id
        WHERE p.amount_paid < p.amount_due AND c.status <> 'cancelled'
          AND p.due_date >= ?::DATE AND p.due_date <= ?::DATE + ?::INTEGER AND {scope}
        ORDER BY p.due_date, p.id
        """,
        [today, today, days, *sp],
    )


def past_close(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    scope, sp = owner_scope(actor, "o.owner_id")
    return db.query(
        f"""
        SELECT o.id, o.name, a.name AS account, s.name AS stage, o.expected_close,
               date_diff('day', o.expected_close, ?::DATE) AS days_late, o.amount
        FROM opportunities o JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id
        WHERE o.status = 'open' AND o.expected_close < ?::DATE AND {scope}
        ORDER BY o.expected_close, o.id
        """,
        [today, today, *sp],
    )


def stale_in_stage(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    days = int(settings.get(db, "reminders.stale_stage_days"))
    scope, sp = owner_scope(actor, "o.owner_id")
    return db.query(
        f"""
        SELECT * FROM (
            SELECT o.id, o.name, a.name AS account, s.name AS stage,
                   date_diff('day', greatest(coalesce(o.stage_entered_at, o.created_at),
                                             coalesce(o.last_activity_at, o.created_at))::DATE, ?::DATE) AS idle_days,
                   o.amount
            FROM opportunities o JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id
            WHERE o.status = 'open' AND {scope}
        ) WHERE idle_days >= ?
        ORDER BY idle_days DESC, id
        """,
        [today, *sp, days],
    )


def all_reminders(db: Database, actor: Actor, *, today: date | None = None) -> dict[str, pl.DataFrame]:
    """Every reminder list for the actor, keyed by kind (in `KINDS` order)."""
    today = today or date.today()
    return {
        "overdue_followups": overdue_followups(db, actor, today),
        "returning_to_pool": pool.returning_soon(db, actor, today=today),
        "payments_due": payments_due(db, actor, today),
        "past_close": past_close(db, actor, today),
        "stale_in_stage": stale_in_stage(db, actor, today),
    }
