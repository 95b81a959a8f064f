"""The account value summary: per-account order, payment and contact aggregates.

Every figure on the value page is derived from `value_summary` (one row per
account with orders) and `value_account_products` (one row per account and
product bought), never from the order lines on a page view.

Kept current three ways:
- a write to orders, payments, contracts, activities, opportunities or
  accounts queues the accounts it touched in `plan_facts_and_value_dirty` (the queue every
  summary shares, written by `crm_core.derived` in one insert, so a save stays
  a few milliseconds); a `hooks.on_change` listener here records -1 in
  `value_summary_dirty` for "any account" after a bulk change. The next value
  read (or `derived.refresh_all`) recomputes just those in one batch, or everything.
- `rebuild(db)` recomputes everything in bulk (demo, benchmark loads, imports).
- `ensure_current(db)` runs before each read: it refreshes the dirty accounts,
  then compares a cheap fingerprint
  of the source tables (row counts, highest ids, sums of versions) with the one
  stored at the last refresh, and rebuilds when a writer did not notify.
"""

from __future__ import annotations

from typing import Any

from crm_core import derived, hooks
from crm_core.db import Database

SOURCE_TABLES = derived.VALUE_TABLES

# Row counts, highest ids and sums of versions: cheap at 5M order lines (no amounts are summed), and they
# move on every insert, delete and versioned edit. An in-place UPDATE of an order line without a
# notification is not seen (orders carry no version); writers notify.
_FINGERPRINT_SQL = """
SELECT concat_ws('|',
    (SELECT count(*) || ':' || coalesce(max(id), 0) FROM orders),
    (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM payments),
    (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(version), 0) FROM contracts),
    (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(version), 0) FROM activities),
    (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM opportunities),
    (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM accounts))
"""


def _subset(alias: str, ids: list[int] | None) -> tuple[str, list[Any]]:
    """The condition restricting a source table to the accounts being refreshed."""
    if ids is None:
        return "TRUE", []
    return f"{alias}.account_id IN (SELECT unnest(?::BIGINT[]))", [ids]


def _summary_insert(ids: list[int] | None) -> tuple[str, list[Any]]:
    o_where, o_p = _subset("o", ids)
    c_where, c_p = _subset("c", ids)
    a_where, a_p = _subset("x", ids)
    p_where, p_p = _subset("op", ids)
    sql = f"""
    INSERT INTO value_summary
    WITH days AS (
        -- purchase occasions: distinct order dates, counted apart so the per-account sums below
        -- are one pass with a small hash table (a per-day pass carrying every sum costs twice as much)
        SELECT account_id, count(*) AS order_days
        FROM (SELECT DISTINCT o.account_id, o.order_date FROM orders o WHERE {o_where})
        GROUP BY account_id
    ), ord AS (
        SELECT o.account_id, count(*) AS order_lines, min(o.order_date) AS first_order,
               max(o.order_date) AS last_order, sum(o.amount) AS revenue,
               coalesce(sum(o.amount) FILTER (WHERE o.cost IS NOT NULL), 0) AS costed_revenue,
               sum(o.amount - o.cost) FILTER (WHERE o.cost IS NOT NULL) AS gross_profit,
               -- the products bought as bits: 0 when no line names a product, NULL when one has an
               -- id above 63 (no bit for it)
               CASE WHEN max(o.product_id) FILTER (WHERE o.product_id > 0) IS NULL THEN 0
                    WHEN max(o.product_id) FILTER (WHERE o.product_id > 0) <= 63
                    THEN bit_or((1::UBIGINT) << o.product_id::INTEGER) FILTER (WHERE o.product_id BETWEEN 1 AND 63)
               END AS product_mask
        FROM orders o WHERE {o_where}
        GROUP BY o.account_id
    ), pay AS (
        SELECT c.account_id, sum(p.amount_paid) AS paid_amount,
               coalesce(sum(p.amount_paid) FILTER (WHERE p.paid_date <= p.due_date), 0) AS paid_on_time
        FROM payments p JOIN contracts c ON c.id = p.contract_id
        WHERE {c_where} AND c.status <> 'cancelled' AND p.paid_date IS NOT NULL
        GROUP BY c.account_id
    ), act AS (
        SELECT x.account_id, count(*) AS followups, max(x.occurred_at) AS last_followup
        FROM activities x WHERE {a_where} AND x.kind <> 'task' AND x.done
        GROUP BY x.account_id
    ), opp AS (
        SELECT op.account_id, count(*) AS open_opps, sum(op.amount) AS open_amount
        FROM opportunities op WHERE {p_where} AND op.status = 'open'
        GROUP BY op.account_id
    )
    SELECT ord.account_id, days.order_days, ord.order_lines, ord.first_order, ord.last_order, ord.revenue,
           ord.costed_revenue, ord.gross_profit,
           coalesce(pay.paid_amount, 0), coalesce(pay.paid_on_time, 0),
           coalesce(act.followups, 0),
           -- the account's own "last follow-up" stamp counts too (set by writers without an activity row)
           CASE WHEN a.last_followup_at IS NULL THEN act.last_followup
                WHEN act.last_followup IS NULL THEN a.last_followup_at
                ELSE greatest(a.last_followup_at, act.last_followup) END,
           coalesce(opp.open_opps, 0), coalesce(opp.open_amount, 0), ord.product_mask
    FROM ord
    JOIN days ON days.account_id = ord.account_id
    LEFT JOIN accounts a ON a.id = ord.account_id
    LEFT JOIN pay ON pay.account_id = ord.account_id
    LEFT JOIN act ON act.account_id = ord.account_id
    LEFT JOIN opp ON opp.account_id = ord.account_id
    """
    return sql, [*o_p, *o_p, *c_p, *a_p, *p_p]


def _products_insert(ids: list[int] | None) -> tuple[str, list[Any]]:
    o_where, o_p = _subset("o", ids)
    sql = f"""
    INSERT INTO value_account_products
    SELECT account_id, product_id, count(*) AS order_days, min(order_date), max(order_date), sum(revenue),
           sum(quantity)
    FROM (
        SELECT o.account_id, o.product_id, o.order_date, sum(o.amount) AS revenue, sum(o.quantity) AS quantity
        FROM orders o WHERE {o_where} AND o.product_id IS NOT NULL
        GROUP BY o.account_id, o.product_id, o.order_date
    ) GROUP BY account_id, product_id
    """
    return sql, o_p


def refresh(db: Database, account_ids: list[int] | None = None, *, force: bool = False) -> None:
    """Recompute the summary rows of `account_ids` (None = every account) in one transaction."""
    ids = None if account_ids is None else sorted({int(i) for i in account_ids})
    if ids == []:
        return
    if db.read_only:
        return
    if ids is not None and db.scalar("SELECT count(*) FROM value_summary_state") == 0:
        ids = None  # never built: a partial refresh would leave the others out yet look current
    if ids is None and not force and is_current(db):
        return  # a bulk load notifies each table in turn: the first rebuild covers them all
    with db.atomic() as cur:
        if ids is None:
            cur.execute("DELETE FROM value_summary_dirty")
        else:
            cur.execute("DELETE FROM value_summary_dirty WHERE account_id IN (SELECT unnest(?::BIGINT[]))", [ids])
        derived.mark_folded(cur, "value", ids)
        if ids is None:
            cur.execute("DELETE FROM value_summary")
            cur.execute("DELETE FROM value_account_products")
        else:
            cur.execute("DELETE FROM value_summary WHERE account_id IN (SELECT unnest(?::BIGINT[]))", [ids])
            cur.execute("DELETE FROM value_account_products WHERE account_id IN (SELECT unnest(?::BIGINT[]))",
                        [ids])
        for sql, params in (_summary_insert(ids), _products_insert(ids)):
            cur.execute(sql, params)
        fingerprint = cur.execute(_FINGERPRINT_SQL).fetchone()[0]
        cur.execute("DELETE FROM value_summary_state")
        cur.execute("INSERT INTO value_summary_state (id, fingerprint) VALUES (1, ?)", [fingerprint])


def rebuild(db: Database) -> None:
    """Recompute every account's summary (after bulk loads: demo, benchmark, import)."""
    refresh(db, None)


_TOKEN_SQL = """
SELECT (SELECT fingerprint || '@' || built_at FROM value_summary_state WHERE id = 1) || '|' ||
       (SELECT coalesce(sum(hash(id, owner_id, merged_into_id, name, industry, region, source, employees,
                                 annual_revenue)), 0) FROM accounts) || '|' ||
       (SELECT coalesce(sum(hash(id, display_name, department_id)), 0) FROM users)
"""


def state_token(db: Database) -> str | None:
    """Changes whenever anything the value figures read changes: the summary (rebuilt or refreshed)
    and the account and user attributes joined to it (names, owners, merges, regions...).

    Results keyed by it stay valid across unrelated writes (a deal's stage, a setting)."""
    return db.scalar(_TOKEN_SQL)


def is_current(db: Database) -> bool:
    stored = db.scalar("SELECT fingerprint FROM value_summary_state WHERE id = 1")
    return stored is not None and stored == db.scalar(_FINGERPRINT_SQL)


def ensure_current(db: Database) -> None:
    """Recompute the accounts writers marked dirty, and rebuild when the source tables changed
    without a notification (bulk loads, old files).

    Checked once per data version of this process's `Database` (a write by
    another process cannot happen while this one holds the file).
    """
    key = (id(db), db.path)
    seen = db.data_version  # taken before looking: a save committed meanwhile is looked at next time
    if db.read_only or _verified.get(key) == seen:
        return
    # -1 in the shared queue is the plan facts' "deals without an account", not "every account"
    dirty = [r[0] for r in db.rows("SELECT account_id FROM value_summary_dirty UNION "
                                   f"SELECT account_id FROM ({derived.queued_sql('value')}) WHERE account_id >= 0")]
    if dirty:
        refresh(db, None if -1 in dirty else dirty, force=True)
    if not is_current(db):
        rebuild(db)
    _verified[key] = seen


_verified: dict[tuple[int, str], int] = {}


def mark_dirty(db: Database, account_ids: list[int] | None) -> None:
    """Record accounts whose summary is out of date (None = all); the next value read recomputes them."""
    if db.read_only or account_ids == []:
        return
    ids = [-1] if account_ids is None else sorted({int(i) for i in account_ids})
    with db.atomic() as cur:
        if len(ids) == 1:  # a form save: the plain insert is the cheaper statement
            cur.execute("INSERT INTO value_summary_dirty VALUES (?)", ids)
        else:
            cur.execute("INSERT INTO value_summary_dirty SELECT unnest(?::BIGINT[])", [ids])


@hooks.on_change(*SOURCE_TABLES)
def _on_change(db: Any, account_ids: list[int] | None) -> None:
    # only a note, so the writer does not wait: the next value read (or `derived.refresh_all`)
    # recomputes everything after a bulk change ("any account", None); given accounts are
    # queued by `derived`'s listener, in the queue every summary shares (one insert per save)
    if account_ids is None:
        mark_dirty(db, None)
