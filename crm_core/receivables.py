"""Money collected: contracts against payments, receivables ageing, the overdue list.

Each payments row is one scheduled instalment of a contract: `amount_due` by
`due_date`; `amount_paid` and `paid_date` record what came in. The amount
still open on an instalment is `amount_due - amount_paid` (never below zero);
cancelled contracts owe nothing. Days overdue = today - due_date; the ageing
buckets are: not due (0 or less), 1-30, 31-60, 61-90, over 90 days.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError

BUCKETS = ("not_due", "d1_30", "d31_60", "d61_90", "over_90")

_OPEN = """
    SELECT p.id AS payment_id, c.id AS contract_id, c.contract_no, c.account_id, c.owner_id, p.due_date,
           greatest(p.amount_due - p.amount_paid, 0) AS outstanding,
           (?::DATE - p.due_date) AS days_overdue
    FROM payments p JOIN contracts c ON c.id = p.contract_id
    WHERE c.status <> 'cancelled' AND p.amount_due > p.amount_paid AND {scope}
"""


def ageing(db: Database, actor: Actor, *, by: str = "owner", today: date | None = None,
           limit: int | None = None) -> pl.DataFrame:
    """Outstanding receivables per owner or customer, split into the ageing buckets,
    most overdue first (`limit`: only the first so many)."""
    if by not in ("owner", "account"):
        raise ValidationError(f"Receivables are aged by owner or account, not {by!r}.", field="by", value=by)
    today = today or date.today()
    scope, sp = owner_scope(actor, "c.owner_id")
    key = "owner_id" if by == "owner" else "account_id"
    names = "(SELECT id, display_name AS name FROM users)" if by == "owner" else "(SELECT id, name FROM accounts)"
    # aggregate first, then look up the few hundred names (not one per instalment)
    return db.query(
        f"""WITH o AS ({_OPEN.format(scope=scope)}),
            g AS (
                SELECT o.{key} AS member_id,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue <= 0)::DOUBLE AS not_due,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue BETWEEN 1 AND 30)::DOUBLE AS d1_30,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue BETWEEN 31 AND 60)::DOUBLE AS d31_60,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue BETWEEN 61 AND 90)::DOUBLE AS d61_90,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue > 90)::DOUBLE AS over_90,
                       sum(o.outstanding)::DOUBLE AS outstanding,
                       sum(o.outstanding) FILTER (WHERE o.days_overdue > 0)::DOUBLE AS overdue
                FROM o GROUP BY o.{key})
            SELECT '{by}' AS by, g.member_id, n.name AS member, g.not_due, g.d1_30, g.d31_60, g.d61_90, g.over_90,
                   g.outstanding, g.overdue
            FROM g LEFT JOIN {names} n ON n.id = g.member_id
            ORDER BY g.overdue DESC NULLS LAST, g.outstanding DESC, member
            LIMIT ?""",
        [today, *sp, limit],
    ).with_columns([pl.col(b).fill_null(0.0) for b in (*BUCKETS, "overdue")])


def overdue(db: Database, actor: Actor, *, today: date | None = None, min_days: int = 1,
            owner_id: int | None = None, limit: int | None = 500) -> pl.DataFrame:
    """Instalments overdue by at least `min_days`, oldest first: the list the reminders use.

    `limit` caps the rows, oldest first (None: all of them, as the reminders want).
    """
    today = today or date.today()
    scope, sp = owner_scope(actor, "c.owner_id")
    return db.query(
        f"""WITH o AS ({_OPEN.format(scope=scope)}),
            top AS (SELECT * FROM o WHERE o.days_overdue >= ? AND (?::BIGINT IS NULL OR o.owner_id = ?)
                    ORDER BY o.days_overdue DESC, o.outstanding DESC, o.payment_id LIMIT ?)
            SELECT o.payment_id, o.contract_id, o.contract_no, o.account_id, ac.name AS account,
                   o.owner_id, us.display_name AS owner, o.due_date, o.outstanding::DOUBLE AS outstanding,
                   o.days_overdue
            FROM top o LEFT JOIN users us ON us.id = o.owner_id LEFT JOIN accounts ac ON ac.id = o.account_id
            ORDER BY o.days_overdue DESC, o.outstanding DESC, o.payment_id""",
        [today, *sp, max(1, min_days), owner_id, owner_id, limit],
    )


def contracts_vs_payments(db: Database, actor: Actor, date_from: date, date_to: date, *,
                          today: date | None = None) -> pl.DataFrame:
    """Contracts signed in [date_from, date_to]: amount, due so far, paid, outstanding.

    `paid` counts every payment received for the contract, whenever it came in
    (a prepayment before the contract month included).
    """
    today = today or date.today()
    scope, sp = owner_scope(actor, "c.owner_id")
    return db.query(
        f"""SELECT c.id AS contract_id, c.contract_no, ac.name AS account, us.display_name AS owner,
                   c.signed_date, c.status, c.amount::DOUBLE AS amount,
                   coalesce(sum(p.amount_due) FILTER (WHERE p.due_date <= ?), 0)::DOUBLE AS due_to_date,
                   coalesce(sum(p.amount_paid), 0)::DOUBLE AS paid,
                   (c.amount - coalesce(sum(p.amount_paid), 0))::DOUBLE AS unpaid,
                   CASE WHEN c.amount > 0 THEN round(coalesce(sum(p.amount_paid), 0) / c.amount * 100, 1)
                   END::DOUBLE AS paid_pct
            FROM contracts c LEFT JOIN payments p ON p.contract_id = c.id
            LEFT JOIN accounts ac ON ac.id = c.account_id LEFT JOIN users us ON us.id = c.owner_id
            WHERE c.signed_date >= ? AND c.signed_date <= ? AND {scope}
            GROUP BY c.id, c.contract_no, ac.name, us.display_name, c.signed_date, c.status, c.amount
            ORDER BY c.signed_date DESC, c.id""",
        [today, date_from, date_to, *sp],
    )


def collected_summary(db: Database, actor: Actor, date_from: date, date_to: date, *,
                      today: date | None = None) -> dict[str, float]:
    """Totals for the page's headline: booked, collected in the period, outstanding, overdue."""
    today = today or date.today()
    scope, sp = owner_scope(actor, "c.owner_id")
    # one pass over instalments joined to their contracts for the three money totals
    row = db.one(
        f"""SELECT
              (SELECT coalesce(sum(c.amount), 0) FROM contracts c
               WHERE c.status <> 'cancelled' AND c.signed_date BETWEEN ? AND ? AND {scope})::DOUBLE AS booked,
              coalesce(sum(p.amount_paid) FILTER (WHERE p.paid_date BETWEEN ? AND ?), 0)::DOUBLE AS collected,
              coalesce(sum(greatest(p.amount_due - p.amount_paid, 0))
                       FILTER (WHERE c.status <> 'cancelled'), 0)::DOUBLE AS outstanding,
              coalesce(sum(greatest(p.amount_due - p.amount_paid, 0))
                       FILTER (WHERE c.status <> 'cancelled' AND p.due_date < ?), 0)::DOUBLE AS overdue
            FROM payments p JOIN contracts c ON c.id = p.contract_id
            WHERE {scope}""",
        [date_from, date_to, *sp, date_from, date_to, today, *sp],
    )
    return dict(row or {})
