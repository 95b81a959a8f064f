"""What to sell next: product pairs, recommendations from similar customers, up-sell, repeat purchases due.

All read `value_account_products` (one row per customer and product bought),
limited to the customers the actor may see after the filters.

- Pairs (rule A -> B) over N customers who bought any product: support =
  customers with both / N; confidence = customers with both / customers with A;
  lift = confidence / (customers with B / N). Pairs bought together by at
  least `min_customers` customers.
- Recommendations for one customer X: similar customers share at least one
  product; similarity = Jaccard (common products / products of either). A
  product X has not bought scores sum(similarity of those who bought it) /
  sum(similarity of all similar customers).
- Up-sell: the customer's highest tier bought in a series is below the
  series' top active tier; the suggestion is the next tier up. Biggest
  customers (revenue) first.
- Repeat due: cycle = the product's repurchase_days, else its observed average
  interval (sum over customers of (last - first) / sum of (order days - 1));
  due date = last purchase + cycle; listed when the due date is within the
  next 14 days or passed less than one cycle ago.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from crm_core import value_summary
from crm_core.access import Actor, can_see_owner, require
from crm_core.db import Database
from crm_core.errors import NotFound
from crm_core.filters import PipelineFilter
from crm_core.value_scoring import filter_sql

DUE_AHEAD_DAYS = 14


def _visible(actor: Actor, flt: PipelineFilter | None) -> tuple[str, list[Any]]:
    """A CTE `vis(account_id, product_id, ...)` of the visible customers' products."""
    where, params = filter_sql(actor, flt)
    return f"""
        vis AS (
            SELECT p.* FROM value_account_products p
            JOIN accounts a ON a.id = p.account_id AND a.merged_into_id IS NULL
            LEFT JOIN users u ON u.id = a.owner_id
            WHERE {where}
        )""", params


# Customers grouped by the set of products they bought (value_summary.product_mask, bit N = product id N):
# a few hundred distinct baskets instead of ~1M customer-product rows. `exclude` leaves one account out.
_BASKETS = """
        baskets AS (
            SELECT s.product_mask AS mask, count(*) FILTER (WHERE s.account_id IS DISTINCT FROM {exclude}) AS k
            FROM value_summary s
            JOIN accounts a ON a.id = s.account_id AND a.merged_into_id IS NULL
            LEFT JOIN users u ON u.id = a.owner_id
            WHERE {where} AND s.product_mask <> 0
            GROUP BY s.product_mask
        ),
        prods AS (SELECT id FROM products WHERE id BETWEEN 1 AND 63)"""
_HAS = "(({m} >> {p}::INTEGER) & 1::UBIGINT) = 1"
_PAIRS_SELECT = """
        SELECT pa.name AS product_a, pb.name AS product_b, b.together AS customers_both,
               per_a.buyers AS customers_a, per_b.buyers AS customers_b, n.n AS customers,
               b.together / n.n AS support, b.together / per_a.buyers AS confidence,
               (b.together / per_a.buyers) / (per_b.buyers / n.n) AS lift, b.a_id, b.b_id
        FROM both_ b CROSS JOIN n
        JOIN per per_a ON per_a.product_id = b.a_id
        JOIN per per_b ON per_b.product_id = b.b_id
        JOIN products pa ON pa.id = b.a_id
        JOIN products pb ON pb.id = b.b_id
        ORDER BY lift DESC, support DESC, product_a, product_b
        LIMIT ?"""


def _masks_complete(db: Database) -> bool:
    """True when every customer's basket fits the bit mask (all product ids 1..63)."""
    return not db.scalar("SELECT count(*) FROM value_summary WHERE product_mask IS NULL")


def product_pairs(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, min_customers: int = 2,
                  limit: int = 200) -> pl.DataFrame:
    """Rules A -> B with support, confidence and lift, strongest lift first."""
    value_summary.ensure_current(db)
    if _masks_complete(db):
        where, params = filter_sql(actor, flt)
        return db.query(f"""
        WITH {_BASKETS.format(where=where, exclude="NULL")},
        n AS (SELECT sum(k) AS n FROM baskets),
        per AS (SELECT p.id AS product_id, sum(b.k) AS buyers FROM baskets b JOIN prods p ON {_HAS.format(m="b.mask",
                                                                                                     p="p.id")}
                GROUP BY p.id),
        both_ AS (
            SELECT x.id AS a_id, y.id AS b_id, sum(b.k) AS together
            FROM baskets b JOIN prods x ON {_HAS.format(m="b.mask", p="x.id")}
            JOIN prods y ON y.id <> x.id AND {_HAS.format(m="b.mask", p="y.id")}
            GROUP BY 1, 2 HAVING sum(b.k) >= ?
        )
        {_PAIRS_SELECT}
        """, [*params, min_customers, limit])
    vis, params = _visible(actor, flt)
    return db.query(f"""
        WITH {vis},
        n AS (SELECT count(DISTINCT account_id) AS n FROM vis),
        per AS (SELECT product_id, count(*) AS buyers FROM vis GROUP BY product_id),
        both_ AS (
            SELECT x.product_id AS a_id, y.product_id AS b_id, count(*) AS together
            FROM vis x JOIN vis y ON x.account_id = y.account_id AND x.product_id <> y.product_id
            GROUP BY 1, 2 HAVING count(*) >= ?
        )
        {_PAIRS_SELECT}
    """, [*params, min_customers, limit])


def recommendations(db: Database, actor: Actor, account_id: int, flt: PipelineFilter | None = None, *,
                    limit: int = 5) -> pl.DataFrame:
    """Products that customers similar to `account_id` buy and it does not."""
    value_summary.ensure_current(db)
    vis, params = _visible(actor, flt)
    found = db.one("SELECT owner_id FROM accounts WHERE id = ?", [account_id])
    if found is None:
        raise NotFound(f"Account {account_id} does not exist.")
    require(actor, can_see_owner(actor, found["owner_id"]), f"see the purchases of account {account_id}")
    if _masks_complete(db):
        mine = db.scalar("SELECT product_mask FROM value_summary WHERE account_id = ?", [account_id]) or 0
        where, params = filter_sql(actor, flt)
        return db.query(f"""
        WITH {_BASKETS.format(where=where, exclude="?::BIGINT")},
        neighbours AS (
            SELECT mask, k, bit_count(mask & ?::UBIGINT) / bit_count(mask | ?::UBIGINT) AS similarity
            FROM baskets WHERE k > 0 AND (mask & ?::UBIGINT) <> 0
        ),
        total AS (SELECT sum(k * similarity) AS t, sum(k) AS n FROM neighbours)
        SELECT p.id AS product_id, p.name AS product, sum(nb.k) AS similar_buyers, total.n AS similar_customers,
               sum(nb.k * nb.similarity) / total.t AS score
        FROM neighbours nb JOIN prods x ON {_HAS.format(m="nb.mask", p="x.id")}
             AND NOT {_HAS.format(m="?::UBIGINT", p="x.id")}
        JOIN products p ON p.id = x.id
        CROSS JOIN total
        GROUP BY p.id, p.name, total.n, total.t
        ORDER BY score DESC, product
        LIMIT ?
        """, [account_id, *params, mine, mine, mine, mine, limit])
    return db.query(f"""
        WITH {vis},
        mine AS (SELECT product_id FROM vis WHERE account_id = ?),
        sizes AS (SELECT account_id, count(*) AS k FROM vis GROUP BY account_id),
        neighbours AS (
            SELECT v.account_id, count(*) / (s.k + (SELECT count(*) FROM mine) - count(*)) AS similarity
            FROM vis v JOIN mine m ON m.product_id = v.product_id JOIN sizes s ON s.account_id = v.account_id
            WHERE v.account_id <> ?
            GROUP BY v.account_id, s.k
        ),
        total AS (SELECT sum(similarity) AS t, count(*) AS n FROM neighbours)
        SELECT p.id AS product_id, p.name AS product, count(*) AS similar_buyers, total.n AS similar_customers,
               sum(nb.similarity) / total.t AS score
        FROM neighbours nb JOIN vis v ON v.account_id = nb.account_id
        JOIN products p ON p.id = v.product_id
        CROSS JOIN total
        WHERE v.product_id NOT IN (SELECT product_id FROM mine)
        GROUP BY p.id, p.name, total.n, total.t
        ORDER BY score DESC, product
        LIMIT ?
    """, [*params, account_id, account_id, limit])


def upsell(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, limit: int | None = 500
           ) -> pl.DataFrame:
    """Customers on a lower tier of a product series, with the next tier up; biggest customers first."""
    value_summary.ensure_current(db)
    where, params = filter_sql(actor, flt)
    if _masks_complete(db):
        # the tiers held are a property of the basket: work them out once per distinct basket
        held = f"""
        cust AS (
            SELECT s.account_id, s.product_mask AS mask, s.revenue FROM value_summary s
            JOIN accounts a ON a.id = s.account_id AND a.merged_into_id IS NULL
            LEFT JOIN users u ON u.id = a.owner_id
            WHERE {where} AND s.product_mask <> 0
        ),
        held_by_mask AS (
            SELECT m.mask, p.series, max(p.tier) AS tier
            FROM (SELECT DISTINCT mask FROM cust) m
            JOIN products p ON p.id BETWEEN 1 AND 63 AND {_HAS.format(m="m.mask", p="p.id")}
            WHERE p.series IS NOT NULL AND p.tier IS NOT NULL
            GROUP BY m.mask, p.series
        ),
        held AS (SELECT c.account_id, c.revenue, h.series, h.tier FROM cust c JOIN held_by_mask h ON h.mask = c.mask)"""
    else:
        held = f"""
        held AS (
            SELECT p.account_id, s.revenue, pr.series, max(pr.tier) AS tier
            FROM value_account_products p
            JOIN value_summary s ON s.account_id = p.account_id
            JOIN accounts a ON a.id = p.account_id AND a.merged_into_id IS NULL
            LEFT JOIN users u ON u.id = a.owner_id
            JOIN products pr ON pr.id = p.product_id
            WHERE {where} AND pr.series IS NOT NULL AND pr.tier IS NOT NULL
            GROUP BY p.account_id, s.revenue, pr.series
        )"""
    sql = f"""
        WITH {held},
        tiers AS (SELECT series, tier, min(name) AS name, min(list_price) AS list_price FROM products
                  WHERE active AND series IS NOT NULL AND tier IS NOT NULL GROUP BY series, tier),
        nxt AS (
            SELECT h.account_id, h.series, h.tier, h.revenue, min(t.tier) AS next_tier
            FROM held h JOIN tiers t ON t.series = h.series AND t.tier > h.tier
            GROUP BY ALL
        )
        SELECT n.account_id, a.name, u.display_name AS owner_name, n.series, cur.name AS current_product,
               n.tier AS current_tier, up.name AS next_product, n.next_tier, up.list_price AS next_list_price,
               n.revenue AS customer_revenue
        FROM nxt n
        JOIN accounts a ON a.id = n.account_id
        LEFT JOIN users u ON u.id = a.owner_id
        LEFT JOIN tiers cur ON cur.series = n.series AND cur.tier = n.tier
        JOIN tiers up ON up.series = n.series AND up.tier = n.next_tier
        ORDER BY n.revenue DESC, n.account_id, n.series
    """
    if limit:
        sql += " LIMIT ?"
        params = [*params, limit]
    return db.query(sql, params)


def repeat_due(db: Database, actor: Actor, flt: PipelineFilter | None = None, as_of: date | None = None, *,
               limit: int | None = 500) -> pl.DataFrame:
    """Customer-product pairs whose next purchase is due by the product's cycle."""
    value_summary.ensure_current(db)
    as_of = as_of or date.today()
    vis, params = _visible(actor, flt)
    sql = f"""
        WITH {vis},
        observed AS (
            SELECT product_id,
                   sum(last_order - first_order) / nullif(sum(order_days - 1), 0) AS interval
            FROM vis WHERE order_days >= 2 GROUP BY product_id
        ),
        cycles AS (
            SELECT p.id AS product_id, p.name, coalesce(p.repurchase_days::DOUBLE, o.interval) AS cycle_days
            FROM products p LEFT JOIN observed o ON o.product_id = p.id
        ),
        due AS (
            SELECT v.account_id, c.product_id, c.name AS product, c.cycle_days, v.last_order, v.order_days,
                   v.last_order + CAST(round(c.cycle_days) AS INTEGER) AS due_date
            FROM vis v JOIN cycles c ON c.product_id = v.product_id
            WHERE c.cycle_days IS NOT NULL AND c.cycle_days > 0
        )
        SELECT d.account_id, a.name, u.display_name AS owner_name, d.product, d.cycle_days, d.last_order,
               d.due_date, ?::DATE - d.due_date AS days_overdue
        FROM due d JOIN accounts a ON a.id = d.account_id LEFT JOIN users u ON u.id = a.owner_id
        WHERE d.due_date <= ?::DATE AND d.due_date > ?::DATE - CAST(round(d.cycle_days) AS INTEGER)
        ORDER BY d.due_date, d.account_id, d.product
    """
    params = [*params, as_of, as_of + timedelta(days=DUE_AHEAD_DAYS), as_of]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return db.query(sql, params)
