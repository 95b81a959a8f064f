"""Synthetic data at benchmark scale, generated entirely in DuckDB SQL.

`generate(db, scale)` fills an empty, migrated database with a sales team at
one of three sizes (see `SCALES`): at "1m", 100k accounts in parent groups with
industry-chain links, ~250k contacts, 200 reps in 10 departments, 1M
opportunities with their full stage history (~3.5M rows) and close-date moves,
5M order lines, contracts with payment schedules, activities and two years of
targets. "100k" is a tenth of that, "small" about the demo's size.

Why SQL and not Python: a million deals built row by row in Python take
minutes; built set-wise from `range()` they take seconds. Every random choice
is a hash of (row number, purpose) rather than `random()`, so the data is the
same on every run whatever DuckDB's thread count (parallel `random()` is not
reproducible even after `setseed`). Same scale and same `today`, same data.

Accounts 1..`mega_group` form one parent/subsidiary tree (fan-out 13)
so that the relationship graph can be measured on a group of that many nodes
(fan-out 13: 2,000 accounts lie within 3 steps of the root, the graph page's default depth).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crm_core import demo, derived, hooks
from crm_core.db import Database, quote_ident
from crm_core.passwords import hash_password


@dataclass(frozen=True)
class Scale:
    accounts: int
    reps: int
    departments: int
    opportunities: int
    order_lines: int
    mega_group: int  # accounts in the one big group the graph benchmark draws


SCALES: dict[str, Scale] = {
    "small": Scale(accounts=1_500, reps=20, departments=3, opportunities=6_000, order_lines=20_000,
                   mega_group=200),
    "100k": Scale(accounts=10_000, reps=60, departments=6, opportunities=100_000, order_lines=500_000,
                  mega_group=2_000),
    "1m": Scale(accounts=100_000, reps=200, departments=10, opportunities=1_000_000, order_lines=5_000_000,
                mega_group=2_000),
}

BENCH_PASSWORD = demo.DEMO_PASSWORD


def _sql_list(values: list[str]) -> str:
    """A SQL list literal of constant strings written here (never user text)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


# Deterministic uniform numbers in [0, 1) from (row, purpose); `pick` a list item.
_MACROS = [
    "CREATE OR REPLACE TEMP MACRO u(i, salt) AS ((hash(i, salt) >> 11)::DOUBLE / 9007199254740992.0)",
    "CREATE OR REPLACE TEMP MACRO pick(lst, i, salt) AS (lst[1 + (hash(i, salt) % len(lst))::BIGINT])",
    "CREATE OR REPLACE TEMP MACRO h(i, salt) AS ((hash(i, salt) >> 1)::BIGINT)",
    "CREATE OR REPLACE TEMP MACRO days(d) AS (to_seconds(CAST(round(d * 86400) AS BIGINT)))",
]

_NAME_A = demo.NAME_A
_NAME_B = demo.NAME_B
_SUFFIX = demo.SUFFIX
# Product weights as in the demo: entry software sells more than enterprise.
_PRODUCT_WEIGHTS = [8, 6, 2, 6, 4, 6, 4, 2, 5, 4, 3, 2]
_WEIGHTED_PRODUCTS = [str(i + 1) for i, w in enumerate(_PRODUCT_WEIGHTS) for _ in range(w)]


def generate(db: Database, scale: str = "small", *, today: date | None = None,
             timings: dict[str, float] | None = None) -> dict[str, int]:
    """Fill an empty, migrated database with synthetic data; returns row counts per table.

    Derived data kept by change listeners (value summaries, ...) is rebuilt at
    the end through `hooks.notify` and `derived.refresh_all`, exactly as after
    a large import. `timings`, if
    given, receives the seconds of the SQL generation and of that rebuild.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if not db.is_empty():
        raise RuntimeError("benchmark data goes into an empty database only")
    s = SCALES[scale]
    today = today or date.today()
    start = today - timedelta(days=730)
    rep0 = s.departments + 2  # users: 1 admin, 2..D+1 managers, reps from D+2, then one analyst
    p = {
        "today": today, "start": start, "n_acc": s.accounts, "n_rep": s.reps, "n_dept": s.departments,
        "n_opp": s.opportunities, "n_lines": s.order_lines, "mega": s.mega_group, "rep0": rep0,
        "moved_on": today - timedelta(days=180), "hist_from": start - timedelta(days=365),
        "pw": hash_password(BENCH_PASSWORD),
    }
    started = time.perf_counter()
    with db.atomic() as cur:
        for m in _MACROS:
            cur.execute(m)
        for step in _STEPS:
            sql, names = step
            cur.execute(sql, {k: p[k] for k in names})
        _fill_match_keys(cur)
        for tmp in ("_acc", "_opp", "_cust", "_won"):
            cur.execute(f"DROP TABLE IF EXISTS {tmp}")
    for table in _TABLES:
        _restart_sequence(db, table)
    generated = time.perf_counter()
    hooks.load_listeners()
    for table in ("accounts", "opportunities", "orders", "payments", "activities"):
        hooks.notify(db, table, None)
    derived.refresh_all(db)  # "any account" may leave the work to the next read: do it now, timed
    if timings is not None:
        timings["sql_s"] = round(generated - started, 2)
        timings["hooks_s"] = round(time.perf_counter() - generated, 2)
    return {t: db.scalar(f"SELECT count(*) FROM {quote_ident(t)}") for t in _TABLES + _EXTRA_TABLES}


_TABLES = ["departments", "users", "stages", "products", "accounts", "account_links", "contacts", "opportunities",
           "stage_history", "orders", "contracts", "payments", "activities", "targets"]
_EXTRA_TABLES = ["user_department_history", "close_date_history", "opportunity_contacts", "opportunity_team"]


def _fill_match_keys(cur: Any) -> None:
    """Fill the accounts' tax/phone comparison keys when the pipeline's migration added them.

    Same rule as crm_core.names: tax id without punctuation in upper case,
    phone as its digits (generated phones are long enough to count).
    """
    cols = {r[0] for r in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'").fetchall()}
    if {"tax_key", "phone_key"} <= cols:
        cur.execute("UPDATE accounts SET tax_key = upper(regexp_replace(tax_id, '[^0-9A-Za-z]', '', 'g')), "
                    "phone_key = regexp_replace(phone, '[^0-9]', '', 'g')")


def _restart_sequence(db: Database, table: str) -> None:
    """Point `table`'s id default at a sequence starting after its highest id (DuckDB has no setval)."""
    seq = f"seq_{table}"
    top = int(db.scalar(f"SELECT coalesce(max(id), 0) FROM {quote_ident(table)}"))
    with db.atomic() as cur:
        cur.execute(f"ALTER TABLE {quote_ident(table)} ALTER COLUMN id DROP DEFAULT")
        cur.execute(f"DROP SEQUENCE {quote_ident(seq)}")
        cur.execute(f"CREATE SEQUENCE {quote_ident(seq)} START {top + 1}")
        cur.execute(f"ALTER TABLE {quote_ident(table)} ALTER COLUMN id SET DEFAULT nextval('{seq}')")


_STAGES_VALUES = ", ".join(
    f"({i + 1}, '{n}', {i + 1}, {pr}, '{c}', {str(w).upper()}, {str(lo).upper()}, {_sql_list(pb)})"
    for i, (n, pr, c, w, lo, pb) in enumerate(demo.STAGES)
)
_PRODUCT_VALUES = ", ".join(
    f"({i + 1}, '{n}', '{cat}', {('NULL' if se is None else repr(se))}, {('NULL' if t is None else t)}, "
    f"{lp}, {round(lp * cr, 2)}, {('NULL' if rd is None else rd)}, 'P{i + 1:03d}')"
    for i, (n, cat, se, t, lp, cr, rd) in enumerate(demo.PRODUCTS)
)
_REGIONS = _sql_list(demo.REGIONS)
_INDUSTRIES = _sql_list(demo.INDUSTRIES)
_SOURCES = _sql_list(demo.SOURCES)

# Each step: (SQL, the parameter names it binds). Values are bound; the only
# text spliced in is the constant lists above.
_STEPS: list[tuple[str, tuple[str, ...]]] = [
    (f"""INSERT INTO stages (id, name, position, probability, forecast_category, is_won, is_lost, playbook)
         VALUES {_STAGES_VALUES}""", ()),
    (f"""INSERT INTO products (id, name, category, series, tier, list_price, cost, repurchase_days, external_id)
         VALUES {_PRODUCT_VALUES}""", ()),
    (f"""INSERT INTO departments (id, name, parent_id, manager_id, region, created_at)
         SELECT d, 'Sales Team ' || lpad(d::VARCHAR, 2, '0'), NULL, d + 1, {_REGIONS}[1 + (d - 1) % 5],
                $hist_from::TIMESTAMP
         FROM range(1, $n_dept + 1) t(d)""", ("n_dept", "hist_from")),
    # admin, one manager per department, the reps spread over departments, one analyst
    (f"""INSERT INTO users (id, login, display_name, email, role, department_id, region, manager_id,
                            password_hash, active, created_at)
         SELECT id, login, display_name, login || '@bench.example', role, department_id, region, manager_id,
                $pw, TRUE, $hist_from::TIMESTAMP
         FROM (
             SELECT 1 AS id, 'admin' AS login, 'Bench Admin' AS display_name, 'admin' AS role,
                    NULL::BIGINT AS department_id, NULL AS region, NULL::BIGINT AS manager_id
             UNION ALL
             SELECT d + 1, 'manager' || d, 'Manager ' || d, 'manager', d, {_REGIONS}[1 + (d - 1) % 5], 1
             FROM range(1, $n_dept + 1) t(d)
             UNION ALL
             SELECT $rep0 + r, 'rep' || (r + 1), pick({_sql_list(demo.FIRST)}, r, 'first') || ' '
                    || pick({_sql_list(demo.LAST)}, r, 'last') || ' ' || (r + 1), 'rep',
                    1 + r % $n_dept, {_REGIONS}[1 + r % 5], 2 + r % $n_dept
             FROM range(0, $n_rep) t(r)
             UNION ALL
             SELECT $rep0 + $n_rep, 'analyst1', 'Bench Analyst', 'analyst', NULL, NULL, 1
         )""", ("pw", "n_dept", "n_rep", "rep0", "hist_from")),
    # every 25th rep moved department half a year ago (actuals follow the old one before that)
    ("""INSERT INTO user_department_history (user_id, department_id, valid_from, valid_to)
        SELECT id, department_id, CASE WHEN moved THEN $moved_on ELSE $hist_from END, NULL
        FROM (SELECT id, department_id, role = 'rep' AND (id - $rep0) % 25 = 0 AS moved
              FROM users WHERE department_id IS NOT NULL)
        UNION ALL
        SELECT id, department_id % $n_dept + 1, $hist_from, $moved_on
        FROM users WHERE role = 'rep' AND (id - $rep0) % 25 = 0""",
     ("moved_on", "hist_from", "rep0", "n_dept")),
    # Accounts: ids 1..mega form one tree (parent of k is (k-2)//13+1, so 2,000 fit
    # within 3 levels); after that,
    # blocks of ten: three single companies, a group of three, a group of four
    # with a nested subsidiary.
    (f"""CREATE TEMP TABLE _acc AS
         SELECT i AS id, parent_id, root,
                CASE WHEN u(i, 'pool') < 0.12 THEN NULL
                     WHEN u(i, 'own2') < 0.2 THEN $rep0 + h(i, 'rep') % $n_rep
                     ELSE $rep0 + h(root, 'rep') % $n_rep END AS owner_id,
                latin, pick({_sql_list(demo.CN_A)}, i, 'cna') AS cn_a, pick({_sql_list(demo.CN_B)}, i, 'cnb') AS cn_b,
                pick({_sql_list(_NAME_A)}, i, 'na') AS na, pick({_sql_list(_NAME_B)}, i, 'nb') AS nb,
                pick({_sql_list(_SUFFIX)}, i, 'sfx') AS sfx,
                (1 + h(i, 'nc') % 4)::BIGINT AS n_contacts
         FROM (
             SELECT i, u(i, 'cn') >= 0.15 AS latin,
                    CASE WHEN i = 1 THEN NULL
                         WHEN i <= $mega THEN (i - 2) // 13 + 1
                         WHEN (i - $mega - 1) % 10 IN (4, 7, 9) THEN i - 1
                         WHEN (i - $mega - 1) % 10 IN (5, 8) THEN i - 2 END AS parent_id,
                    CASE WHEN i <= $mega THEN 1
                         WHEN (i - $mega - 1) % 10 IN (3, 4, 5) THEN i - ((i - $mega - 1) % 10 - 3)
                         WHEN (i - $mega - 1) % 10 >= 6 THEN i - ((i - $mega - 1) % 10 - 6)
                         ELSE i END AS root
             FROM range(1, $n_acc + 1) t(i))""", ("n_acc", "mega", "rep0", "n_rep")),
    ("ALTER TABLE _acc ADD COLUMN contact_off BIGINT", ()),
    ("""UPDATE _acc SET contact_off = c.off FROM (
            SELECT id, sum(n_contacts) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - n_contacts AS off FROM _acc
        ) c WHERE c.id = _acc.id""", ()),
    # Names are unique (they carry the id) and their normalised key is built
    # alongside: lower case, no spaces, legal suffix dropped.
    (f"""INSERT INTO accounts (id, name, normalized_name, tax_id, phone, website, industry, region, city,
                               employees, annual_revenue, parent_id, source, lifecycle, owner_id, claimed_at,
                               last_followup_at, released_at, external_id, created_at, created_by)
         SELECT id,
                CASE WHEN latin THEN na || ' ' || nb || ' ' || id || ' ' || sfx
                     ELSE cn_a || cn_b || id || CASE WHEN id % 2 = 0 THEN '有限公司' ELSE '股份有限公司' END END,
                CASE WHEN latin THEN lower(na || nb || id) ELSE cn_a || cn_b || id END,
                '91' || lpad((h(id, 'tax') % 1000000000000000)::VARCHAR, 15, '0'),
                '+86 ' || (10 + h(id, 'ph1') % 90) || ' ' || (1000 + h(id, 'ph2') % 9000) || ' '
                    || (1000 + h(id, 'ph3') % 9000),
                CASE WHEN latin AND u(id, 'web') < 0.6 THEN 'https://www.' || lower(na || nb || id) || '.example' END,
                CASE WHEN u(id, 'ind2') < 0.8 THEN pick({_INDUSTRIES}, root, 'ind') ELSE pick({_INDUSTRIES}, id, 'ind') END,
                pick({_REGIONS}, id, 'reg'), NULL,
                CAST(exp(2.5 + 7 * u(id, 'emp')) AS INTEGER),
                CAST(exp(2.5 + 7 * u(id, 'emp'))::INTEGER * (80000 + 320000 * u(id, 'rev')) AS DECIMAL(18, 2)),
                parent_id, pick({_SOURCES}, id, 'src'), 'lead', owner_id,
                CASE WHEN owner_id IS NOT NULL THEN created + days(u(id, 'claim') * 30) END,
                CASE WHEN owner_id IS NOT NULL
                     THEN $today::TIMESTAMP - days(least(-14 * ln(1 - u(id, 'fu')), 200)) END,
                CASE WHEN owner_id IS NULL THEN $today::TIMESTAMP - days(1 + 59 * u(id, 'rel')) END,
                'A' || lpad(id::VARCHAR, 6, '0'), created, owner_id
         FROM (SELECT *, $start::TIMESTAMP - days(900 * u(id, 'created')) + to_hours(8) AS created FROM _acc)
      """, ("today", "start")),
    # industry-chain links: 0.4 per account at random, plus a web inside the big group
    ("""INSERT INTO account_links (id, from_account_id, to_account_id, kind, created_at)
        SELECT row_number() OVER (ORDER BY src, j), a, b, kind, $start::TIMESTAMP
        FROM (
            SELECT 1 AS src, j, 1 + h(j, 'la') % $n_acc AS a, 1 + h(j, 'lb') % $n_acc AS b,
                   pick(['supplier_of', 'supplier_of', 'customer_of', 'partner_of', 'competitor_of'], j, 'lk') AS kind
            FROM range($n_acc * 2 // 5) t(j)
            UNION ALL
            SELECT 2, j, 1 + h(j, 'ma') % $mega, 1 + h(j, 'mb') % $mega,
                   pick(['supplier_of', 'customer_of', 'partner_of'], j, 'mk')
            FROM range($mega // 2) t(j)
        ) WHERE a <> b""", ("start", "n_acc", "mega")),
    (f"""INSERT INTO contacts (id, account_id, name, title, email, phone, reports_to_id, influence, stance,
                               external_id, created_at)
         SELECT cid, id, CASE WHEN latin THEN pick({_sql_list(demo.FIRST)}, cid, 'f') || ' '
                              || pick({_sql_list(demo.LAST)}, cid, 'l')
                              ELSE pick({_sql_list(demo.CN_NAMES)}, cid, 'cn') END,
                CASE WHEN j = 0 THEN pick({_sql_list(demo.TITLES_TOP)}, cid, 't')
                     WHEN j <= 2 THEN pick({_sql_list(demo.TITLES_MID)}, cid, 't')
                     ELSE pick({_sql_list(demo.TITLES_LOW)}, cid, 't') END,
                'c' || cid || '@contacts.example',
                '+86 1' || (30 + h(cid, 'p1') % 70) || ' ' || (1000 + h(cid, 'p2') % 9000) || ' '
                    || (1000 + h(cid, 'p3') % 9000),
                CASE WHEN j = 0 THEN NULL WHEN j <= 2 THEN contact_off + 1 ELSE contact_off + 2 END,
                CASE WHEN j = 0 THEN 5 WHEN j <= 2 THEN 3 + h(cid, 'inf') % 3 ELSE 1 + h(cid, 'inf') % 3 END,
                pick({_sql_list(demo.STANCES)}, cid, 'st'),
                'C' || lpad(cid::VARCHAR, 7, '0'), $start::TIMESTAMP
         FROM (SELECT *, contact_off + j + 1 AS cid
               FROM (SELECT *, unnest(range(n_contacts)) AS j FROM _acc))""", ("start",)),
    # Opportunities. Each deal reaches stage k, then is still open, won (after
    # stage 5) or lost; its s stage changes are spread over its age so every
    # change lies before today: change j happens at created + (j + 0.8 jitter) * D.
    (f"""CREATE TEMP TABLE _opp AS
         WITH b AS (
             SELECT i AS id, 1 + h(i, 'acc') % $n_acc AS account_id,
                    {_sql_list(_WEIGHTED_PRODUCTS)}[1 + (h(i, 'prod') % {len(_WEIGHTED_PRODUCTS)})::BIGINT]::BIGINT
                        AS product_id,
                    $start::TIMESTAMP + days(720 * u(i, 'created')) + to_hours(8 + h(i, 'h') % 10) AS created_at
             FROM range(1, $n_opp + 1) t(i)
         ), c AS (
             SELECT *, date_diff('day', created_at, $today::TIMESTAMP) AS age,
                    CASE WHEN u(id, 'out') < CASE WHEN date_diff('day', created_at, $today::TIMESTAMP) < 90 THEN 0.8
                                                  WHEN date_diff('day', created_at, $today::TIMESTAMP) < 240 THEN 0.35
                                                  ELSE 0.08 END THEN 'open'
                         WHEN u(id, 'won') < 0.4 THEN 'won' ELSE 'lost' END AS status
             FROM b
         ), d AS (
             SELECT *, CASE status WHEN 'open' THEN 1 + floor(pow(u(id, 'k'), 1.3) * 5)::INTEGER
                                   WHEN 'lost' THEN 1 + floor(pow(u(id, 'k'), 1.5) * 5)::INTEGER
                                   ELSE 5 END AS k
             FROM c
         ), e AS (
             SELECT *, CASE status WHEN 'open' THEN k - 1 WHEN 'won' THEN 5 ELSE k END AS s FROM d
         )
         SELECT e.*, least(4 + 26 * u(id, 'dwell'), age / (s + 1.0)) AS dwell,
                created_at + days(s * least(4 + 26 * u(id, 'dwell'), age / (s + 1.0))
                                  + CASE WHEN s > 0 THEN 0.8 * u(id * 8 + s, 'jit') ELSE 0 END
                                    * least(4 + 26 * u(id, 'dwell'), age / (s + 1.0))) AS last_change,
                sum(s + 1) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - (s + 1) AS hist_off
         FROM e""", ("n_acc", "start", "n_opp", "today")),
    (f"""INSERT INTO opportunities (id, account_id, name, owner_id, department_id, product_id, stage_id, amount,
                                    probability, expected_close, created_at, stage_entered_at, last_activity_at,
                                    closed_at, status, lost_reason, source, region, external_id)
         SELECT o.id, o.account_id, p.name || ' for ' || a.name, own.owner_id,
                (SELECT h.department_id FROM user_department_history h
                 WHERE h.user_id = own.owner_id AND h.valid_from <= o.created_at::DATE
                   AND (h.valid_to IS NULL OR o.created_at::DATE < h.valid_to)
                 ORDER BY h.valid_from DESC LIMIT 1),
                o.product_id,
                CASE o.status WHEN 'open' THEN o.k WHEN 'won' THEN 6 ELSE 7 END,
                CAST(greatest(100, round(p.list_price::DOUBLE
                     * exp(0.3 + 0.5 * sqrt(-2 * ln(1 - u(o.id, 'z1'))) * cos(2 * pi() * u(o.id, 'z2')))
                     * pick([1, 1, 1, 2, 3], o.id, 'mult'), -2)) AS DECIMAL(18, 2)),
                CASE WHEN o.status = 'open' AND u(o.id, 'pov') < 0.08 THEN round(0.05 + 0.9 * u(o.id, 'pr'), 2) END,
                CASE WHEN o.status <> 'open' THEN o.last_change::DATE
                     WHEN u(o.id, 'overdue') < 0.1 THEN $today - (1 + h(o.id, 'od') % 30)::INTEGER
                     ELSE o.last_change::DATE + (10 + h(o.id, 'ec') % 111)::INTEGER END,
                o.created_at, o.last_change,
                CASE WHEN o.status = 'open' THEN least(o.last_change + days(10 * u(o.id, 'la')), $today::TIMESTAMP)
                     ELSE o.last_change END,
                CASE WHEN o.status <> 'open' THEN o.last_change::DATE END,
                o.status,
                CASE WHEN o.status = 'lost' THEN pick({_sql_list(demo.LOST_REASONS)}, o.id, 'lr') END,
                pick({_SOURCES}, o.id, 'src'), a.region, 'O' || lpad(o.id::VARCHAR, 7, '0')
         FROM _opp o
         JOIN accounts a ON a.id = o.account_id
         JOIN products p ON p.id = o.product_id
         CROSS JOIN LATERAL (SELECT coalesce(a.owner_id, $rep0 + h(o.id, 'rep') % $n_rep) AS owner_id) own
         ORDER BY o.id""", ("today", "rep0", "n_rep")),
    ("""INSERT INTO stage_history (id, opportunity_id, from_stage_id, to_stage_id, changed_at, changed_by)
        SELECT hist_off + j + 1, id,
               CASE WHEN j = 0 THEN NULL ELSE j END,
               CASE WHEN j = 0 THEN 1
                    WHEN j = s AND status = 'won' THEN 6
                    WHEN j = s AND status = 'lost' THEN 7
                    ELSE j + 1 END,
               created_at + days((j + CASE WHEN j > 0 THEN 0.8 * u(id * 8 + j, 'jit') ELSE 0 END) * dwell),
               owner_id
        FROM (SELECT o.*, op.owner_id, unnest(range(o.s + 1)) AS j
              FROM _opp o JOIN opportunities op ON op.id = o.id)""", ()),
    ("""INSERT INTO close_date_history (opportunity_id, old_date, new_date, changed_at, changed_by)
        SELECT id, old_date, expected_close,
               greatest((old_date - (1 + h(id, 'mv') % 10)::INTEGER)::TIMESTAMP + to_hours(10),
                        created_at + to_hours(1)),
               owner_id
        FROM (SELECT id, expected_close, created_at, owner_id,
                     expected_close - (7 + h(id, 'slip') % 54)::INTEGER AS old_date
              FROM opportunities WHERE u(id, 'slips') < 0.25)""", ()),
    (f"""INSERT INTO opportunity_contacts (opportunity_id, contact_id, role, stance)
         SELECT o.id, a.contact_off + 1 + (h(o.id, 'oc') + j) % a.n_contacts,
                pick({_sql_list(demo.ROLES_DECISION)}, o.id * 2 + j, 'role'),
                pick({_sql_list(demo.STANCES)}, o.id * 2 + j, 'ocst')
         FROM _opp o JOIN _acc a ON a.id = o.account_id,
              range(least(1 + h(o.id, 'noc') % 2, a.n_contacts)) t(j)""", ()),
    ("""INSERT INTO opportunity_team (opportunity_id, user_id, role)
        SELECT id, $rep0 + (owner_id - $rep0 + 1 + h(id, 'mate') % ($n_rep - 1)) % $n_rep, 'support'
        FROM opportunities WHERE u(id, 'team') < 0.15 AND owner_id >= $rep0""", ("rep0", "n_rep")),
    # Won deals: a contract with 1-4 instalments and one order line each.
    ("""CREATE TEMP TABLE _won AS
        SELECT row_number() OVER (ORDER BY id) AS contract_id, id, account_id, owner_id, closed_at, amount,
               pick([1, 1, 2, 3, 4], id, 'inst') AS n_inst, product_id
        FROM opportunities WHERE status = 'won'""", ()),
    ("""INSERT INTO contracts (id, contract_no, account_id, opportunity_id, owner_id, signed_date, amount, status,
                               external_id, created_at)
        SELECT contract_id, 'CT-' || lpad(contract_id::VARCHAR, 7, '0'), account_id, id, owner_id, closed_at,
               amount, CASE WHEN closed_at < $today - 365 THEN 'completed' ELSE 'active' END,
               'K' || lpad(contract_id::VARCHAR, 7, '0'), closed_at::TIMESTAMP
        FROM _won""", ("today",)),
    ("""INSERT INTO payments (id, contract_id, due_date, amount_due, paid_date, amount_paid)
        SELECT row_number() OVER (ORDER BY contract_id, k), contract_id, due, amt,
               CASE WHEN due < $today AND r < 0.9 THEN least($today, due + (h(contract_id * 4 + k, 'pd') % 31 - 10)::INTEGER)
                    WHEN due >= $today AND r < 0.1 THEN least($today, due - (h(contract_id * 4 + k, 'pe') % 21)::INTEGER)
               END,
               CASE WHEN due < $today AND r < 0.8 THEN amt
                    WHEN due < $today AND r < 0.9 THEN round(amt / 2, 2)
                    WHEN due >= $today AND r < 0.1 THEN amt
                    ELSE 0 END
        FROM (SELECT contract_id, k, closed_at + (30 + 60 * k)::INTEGER AS due, u(contract_id * 4 + k, 'pay') AS r,
                     CASE WHEN k < n_inst - 1 THEN round(amount / n_inst, 2)
                          ELSE amount - round(amount / n_inst, 2) * (n_inst - 1) END::DECIMAL(18, 2) AS amt
              FROM (SELECT *, unnest(range(n_inst)) AS k FROM _won))""", ("today",)),
    ("""CREATE TEMP TABLE _cust AS
        SELECT row_number() OVER (ORDER BY account_id) - 1 AS rn, account_id FROM (SELECT DISTINCT account_id FROM _won)""",
     ()),
    # Order lines: first one per won deal, then repeat business two lines per
    # order from the customers, spread over the two years.
    ("""INSERT INTO orders (id, order_no, account_id, product_id, opportunity_id, owner_id, order_date, quantity,
                            amount, cost, external_id)
        SELECT contract_id, 'SO-W' || lpad(contract_id::VARCHAR, 7, '0'), w.account_id, w.product_id, w.id,
               w.owner_id, w.closed_at, 1, w.amount, round(w.amount * (p.cost / p.list_price), 2),
               'OL' || lpad(contract_id::VARCHAR, 8, '0')
        FROM _won w JOIN products p ON p.id = w.product_id""", ()),
    ("""INSERT INTO orders (id, order_no, account_id, product_id, opportunity_id, owner_id, order_date, quantity,
                            amount, cost, external_id)
        SELECT id, order_no, account_id, product_id, NULL, owner_id, order_date, qty, amount,
               round(amount * ratio, 2), 'OL' || lpad(id::VARCHAR, 8, '0')
        FROM (
            SELECT l.nw + l.i + 1 AS id, 'SO-' || lpad((l.i // 2)::VARCHAR, 8, '0') AS order_no, c.account_id,
                   l.product_id, a.owner_id, l.order_date, l.qty,
                   CAST(p.list_price * (0.03 + 0.09 * l.r) * l.qty AS DECIMAL(18, 2)) AS amount,
                   p.cost / p.list_price AS ratio
            FROM (SELECT i, (SELECT count(*) FROM _won) AS nw,
                         h(i // 2, 'oc') % (SELECT count(*) FROM _cust) AS rn,
                         1 + h(i, 'op') % 12 AS product_id,
                         $start + (h(i // 2, 'od') % 730)::INTEGER AS order_date,
                         (1 + h(i, 'oq') % 20)::DOUBLE AS qty, u(i, 'oa') AS r
                  FROM range(greatest(0, $n_lines - (SELECT count(*) FROM _won))) t(i)) l
            JOIN _cust c ON c.rn = l.rn
            JOIN accounts a ON a.id = c.account_id
            JOIN products p ON p.id = l.product_id
        )""", ("start", "n_lines")),
    ("""UPDATE accounts SET lifecycle = CASE WHEN lo.last_order IS NULL THEN 'prospect'
                                              WHEN $today - lo.last_order > 365 THEN 'churned'
                                              WHEN $today - lo.last_order > 180 THEN 'dormant'
                                              ELSE 'customer' END
        FROM (SELECT a.id, max(o.order_date) AS last_order
              FROM accounts a LEFT JOIN orders o ON o.account_id = a.id
              WHERE a.id IN (SELECT account_id FROM opportunities)
              GROUP BY a.id) lo
        WHERE lo.id = accounts.id""", ("today",)),
    # Activities: 1-6 follow-ups per owned account, an open task on 30% of them,
    # and one logged touch on every open deal.
    ("""INSERT INTO activities (id, kind, subject, account_id, contact_id, opportunity_id, owner_id, occurred_at,
                                 due_date, done, created_at, created_by)
         SELECT row_number() OVER (ORDER BY src, a, k), kind, subject, a, contact_id, opp, owner_id, occurred_at,
                due_date, done, coalesce(occurred_at, $today::TIMESTAMP - to_days(14)), owner_id
         FROM (
             SELECT 1 AS src, a.id AS a, k, pick(['call', 'email', 'visit', 'meeting', 'note'], a.id * 8 + k, 'ak')
                        AS kind,
                    pick(['Intro call', 'Demo', 'Pricing discussion', 'Quarterly review', 'Follow-up', 'Site visit'],
                         a.id * 8 + k, 'as') AS subject,
                    x.contact_off + 1 + h(a.id * 8 + k, 'ac') % x.n_contacts AS contact_id, NULL::BIGINT AS opp,
                    a.owner_id, a.last_followup_at - days(k * (5 + 35 * u(a.id * 8 + k, 'ad'))) AS occurred_at,
                    NULL::DATE AS due_date, TRUE AS done
             FROM accounts a JOIN _acc x ON x.id = a.id, range(1 + h(a.id, 'na') % 6) t(k)
             WHERE a.owner_id IS NOT NULL
             UNION ALL
             SELECT 2, a.id, 0, 'task', 'Next follow-up', x.contact_off + 1, NULL, a.owner_id, NULL,
                    $today + (h(a.id, 'due') % 25 - 10)::INTEGER, FALSE
             FROM accounts a JOIN _acc x ON x.id = a.id
             WHERE a.owner_id IS NOT NULL AND u(a.id, 'task') < 0.3
             UNION ALL
             SELECT 3, o.id, 0, pick(['call', 'email', 'meeting'], o.id, 'ok'), 'Deal follow-up', NULL, o.id,
                    o.owner_id, o.last_activity_at, NULL, TRUE
             FROM opportunities o WHERE o.status = 'open'
         )""", ("today",)),
    # Targets for last year and this year: monthly won amount per rep, quarterly
    # won amount / collected / order revenue per department, yearly totals and
    # per-product, each near what the data actually achieves (0.8-1.2x).
    ("""INSERT INTO targets (id, grain, period_start, metric, owner_id, department_id, product_id, value, created_at)
        WITH yrs AS (SELECT y FROM (VALUES (year($today) - 1), (year($today))) v(y)),
        avg_won AS (SELECT coalesce(sum(amount), 0) / 24.0 AS per_month FROM opportunities WHERE status = 'won'),
        avg_rev AS (SELECT coalesce(sum(amount), 0) / 24.0 AS per_month FROM orders),
        t AS (
            SELECT 1 AS src, 'month' AS grain, make_date(y, m, 1) AS ps, 'won_amount' AS metric, u.id AS owner_id,
                   NULL::BIGINT AS department_id, NULL::BIGINT AS product_id,
                   (SELECT per_month FROM avg_won) / $n_rep AS base
            FROM yrs, range(1, 13) r(m), users u WHERE u.role = 'rep'
            UNION ALL
            SELECT 2, 'quarter', make_date(y, 3 * q + 1, 1), metric, NULL, d.id, NULL,
                   CASE metric WHEN 'order_revenue' THEN (SELECT per_month FROM avg_rev)
                               ELSE (SELECT per_month FROM avg_won) END * 3 / $n_dept
            FROM yrs, range(4) r(q), departments d, (VALUES ('won_amount'), ('collected'), ('order_revenue')) mt(metric)
            UNION ALL
            SELECT 3, 'year', make_date(y, 1, 1), metric, NULL, NULL, NULL,
                   CASE metric WHEN 'order_revenue' THEN (SELECT per_month FROM avg_rev) * 12
                               WHEN 'new_customers' THEN $n_acc / 20.0
                               ELSE (SELECT per_month FROM avg_won) * 12 END
            FROM yrs, (VALUES ('won_amount'), ('order_revenue'), ('new_customers')) mt(metric)
            UNION ALL
            SELECT 4, 'year', make_date(y, 1, 1), 'won_amount', NULL, NULL, p, (SELECT per_month FROM avg_won) * 12 / 8
            FROM yrs, range(1, 4) r(p)
        )
        SELECT row_number() OVER (ORDER BY src, ps, metric, owner_id, department_id, product_id), grain, ps, metric,
               owner_id, department_id, product_id,
               CAST(round(base * (0.8 + 0.4 * u(hash(ps, metric, owner_id, department_id, product_id), 'tv')),
                          CASE WHEN metric = 'new_customers' THEN 0 ELSE -3 END) AS DECIMAL(18, 2)),
               make_date(y0, 1, 1)
        FROM t, (SELECT min(y) AS y0 FROM yrs)""", ("today", "n_rep", "n_dept", "n_acc")),
]
