"""Plan vs actual: targets on any combination of dimensions against live actuals.

Actuals come from a monthly summary (`plan_facts`, migration 040) kept current
on every write through `crm_core.hooks`, so the page sums at most a few
hundred thousand pre-aggregated rows instead of millions of deals and order
lines. What counts, and when:

- won_amount / won_count: won opportunities, in the month of their close date;
- order_revenue: order lines, by order date;
- collected: money received (payments.amount_paid), by paid date;
- new_opportunities: opportunities, by creation date;
- new_customers: an account's first won deal or first order, whichever is
  earlier, in the month it happened (credited to that deal's or order's owner).

Each figure is credited to the department its owner belonged to on the day of
the deal (close date, order date, creation date, contract signing date for
payments), from `user_department_history`; a rep who changes department
takes none of their past figures along.

Targets: a NULL dimension means "all". A target's actual sums the facts whose
dimensions equal every dimension the target sets, over the target's months.
"""

from __future__ import annotations

import weakref
from datetime import date
from typing import Any

import polars as pl

from crm_core import derived, hooks, periods
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter
from crm_core.periods import Period

METRICS = ("won_amount", "order_revenue", "collected", "won_count", "new_opportunities", "new_customers")
MONEY_METRICS = ("won_amount", "order_revenue", "collected")
DIMENSIONS = ("owner", "department", "region", "product", "account")
DIM_COLUMNS = {"owner": "owner_id", "department": "department_id", "region": "region",
               "product": "product_id", "account": "account_id"}
# bit of each dimension in a signature mask: set = the target does NOT fix it ("all")
_BITS = {"owner_id": 16, "department_id": 8, "region": 4, "product_id": 2, "account_id": 1}
_TYPES = {"owner_id": "BIGINT", "department_id": "BIGINT", "region": "VARCHAR", "product_id": "BIGINT",
          "account_id": "BIGINT"}
_COMPACT_MIN_ROWS = 20_000
# The open pipeline in the facts: 'pipeline:<stage id>' rows hold unweighted amounts (value) and deal
# counts (n), weighted on read by the stage's current probability; 'pipeline_own' rows the amounts
# already weighted by the deals' own probabilities, 'pipeline_own_n' the sum of those probabilities.
_PIPE_STAGES = "SELECT 'pipeline:' || id AS metric, probability AS p FROM stages"
_PIPE_WEIGHTS = """CASE WHEN f.metric = 'pipeline_own' THEN f.value WHEN f.metric = 'pipeline_own_n' THEN 0
                        ELSE f.value * pm.p END AS w_amount,
                   CASE WHEN f.metric = 'pipeline_own' THEN 0 WHEN f.metric = 'pipeline_own_n' THEN f.value
                        ELSE f.n * pm.p END AS w_count"""

# -- the monthly facts ------------------------------------------------------


def _deal_events(opp_cond: str, contract_cond: str) -> str:
    """The events the per-account and the full statements count alike (the `ev` rows: account, day,
    deal day, metric, owner, region, product, value): won deals (from a `won` CTE), new deals, money
    collected and the open pipeline, of the accounts matching the two conditions (crm_core's own SQL
    on `o.account_id` and `c.account_id`)."""
    return f"""
        SELECT account_id, d, d AS deal_day, 'won_amount' AS metric, owner_id, region, product_id,
               amount AS value FROM won
        UNION ALL SELECT account_id, d, d, 'won_count', owner_id, region, product_id, 1 FROM won
        UNION ALL SELECT o.account_id, o.created_at::DATE, o.created_at::DATE, 'new_opportunities', o.owner_id,
               o.region, o.product_id, 1
        FROM opportunities o WHERE {opp_cond}
        UNION ALL SELECT c.account_id, p.paid_date, c.signed_date, 'collected', c.owner_id, ac.region,
               op.product_id, p.amount_paid
        FROM payments p JOIN contracts c ON c.id = p.contract_id
        LEFT JOIN accounts ac ON ac.id = c.account_id
        LEFT JOIN opportunities op ON op.id = c.opportunity_id
        WHERE p.paid_date IS NOT NULL AND p.amount_paid <> 0 AND {contract_cond}
        -- open pipeline by expected close month, in the owner's department today: per stage
        -- unweighted (weighted on read with the stage's current probability), or weighted
        -- by the deal's own probability
        UNION ALL SELECT o.account_id, o.expected_close, current_date,
               CASE WHEN o.probability IS NULL THEN 'pipeline:' || o.stage_id ELSE 'pipeline_own' END,
               o.owner_id, o.region, o.product_id, o.amount * coalesce(o.probability, 1)
        FROM opportunities o WHERE o.status = 'open' AND {opp_cond}
        UNION ALL SELECT o.account_id, o.expected_close, current_date, 'pipeline_own_n', o.owner_id, o.region,
               o.product_id, o.probability
        FROM opportunities o WHERE o.status = 'open' AND o.probability IS NOT NULL AND {opp_cond}"""


def _events_sql(acct: str) -> str:
    """Every counted event of the accounts matching `acct` (a condition written
    by crm_core on the column placeholder {a}), with the owner's department on
    the day of the deal, summed per account, month and dimensions.

    The plain statement, used to refresh a few accounts: it plans in half the
    time of `_events_bulk_sql`, which gives the same rows for every account
    (tests/test_plans_rebuild.py compares the two) and is what a full rebuild runs."""
    a = {k: acct.format(a=k) for k in ("o.account_id", "r.account_id", "c.account_id")}
    return f"""
    WITH won AS (
        SELECT o.id, o.account_id, o.closed_at AS d, o.owner_id, o.region, o.product_id, o.amount
        FROM opportunities o
        WHERE o.status = 'won' AND o.closed_at IS NOT NULL AND {a['o.account_id']}
    ),
    ordered AS (
        SELECT r.id, r.account_id, r.order_date AS d, r.owner_id, ac.region, r.product_id, r.amount
        FROM orders r LEFT JOIN accounts ac ON ac.id = r.account_id
        WHERE {a['r.account_id']}
    ),
    first_buy AS (
        SELECT account_id, d, owner_id, region, product_id FROM (
            SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY d, src, id) AS rn
            FROM (SELECT account_id, d, owner_id, region, product_id, 0 AS src, id FROM won
                  UNION ALL SELECT account_id, d, owner_id, region, product_id, 1 AS src, id FROM ordered)
            WHERE account_id IS NOT NULL
        ) WHERE rn = 1
    ),
    ev AS (
        {_deal_events(a['o.account_id'], a['c.account_id'])}
        UNION ALL SELECT account_id, d, d, 'order_revenue', owner_id, region, product_id, amount FROM ordered
        UNION ALL SELECT account_id, d, d, 'new_customers', owner_id, region, product_id, 1 FROM first_buy
    )
    SELECT ev.account_id, date_trunc('month', ev.d)::DATE AS month, ev.metric, ev.owner_id,
           CASE WHEN h.user_id IS NOT NULL AND (h.valid_to IS NULL OR ev.deal_day < h.valid_to)
                THEN h.department_id ELSE u.department_id END AS department_id,
           ev.region, ev.product_id, sum(ev.value)::DECIMAL(18, 2) AS value, count(*) AS n
    FROM ev
    ASOF LEFT JOIN user_department_history h ON ev.owner_id = h.user_id AND ev.deal_day >= h.valid_from
    LEFT JOIN users u ON u.id = ev.owner_id
    WHERE ev.d IS NOT NULL
    GROUP BY ALL
    """


def _events_bulk_sql() -> str:
    """`_events_sql("TRUE")` for a full rebuild: the same rows (every account's
    events, summed per account, month and dimensions; tests/test_plans_rebuild.py
    compares the two on awkward data), shaped for 5M order lines:
    - the department comes from a range join on the few department spells (a
      hash join on the owner), not an ASOF join that sorts every event;
    - order lines are summed apart with integer keys only (their region is
      the account's, joined after summing), the other events together;
    - an account's first purchase is a min() per account, not a window over
      every won deal and order line.
    Amounts are summed as DOUBLE and rounded to cents, as the union of the
    event values (DECIMAL amounts, counts and weighted DOUBLE pipeline) was.
    """
    # the owner's department on the day of the deal: the spell it falls in, else (before the first
    # spell, in a gap after one ended, or no history at all) the user's current department
    dept_join = """LEFT JOIN _spans s ON s.user_id = e.owner_id AND e.deal_day >= s.lo AND e.deal_day < s.hi
                   LEFT JOIN users u ON u.id = e.owner_id"""
    dept = """CASE WHEN s.user_id IS NOT NULL AND (s.valid_to IS NULL OR e.deal_day < s.valid_to)
                   THEN s.department_id ELSE u.department_id END"""
    return f"""
    WITH _spans AS MATERIALIZED (
        -- each department spell as [lo, hi): from its start to the user's next recorded start; the
        -- ASOF rule "the latest spell started on or before the day" as a plain range join on a few rows
        SELECT h.user_id, h.department_id, h.valid_from AS lo, h.valid_to,
               coalesce(lead(h.valid_from) OVER (PARTITION BY h.user_id
                                                 ORDER BY h.valid_from, h.valid_to NULLS LAST, h.department_id),
                        'infinity'::DATE) AS hi
        FROM user_department_history h
    ),
    lines AS NOT MATERIALIZED (
        -- read twice, streamed from the table each time (5M lines are not worth keeping in memory)
        SELECT r.id, r.account_id, r.order_date, r.owner_id, r.product_id, r.amount FROM orders r
    ),
    won AS MATERIALIZED (
        SELECT o.id, o.account_id, o.closed_at AS d, o.owner_id, o.region, o.product_id, o.amount
        FROM opportunities o
        WHERE o.status = 'won' AND o.closed_at IS NOT NULL
    ),
    first_key AS MATERIALIZED (
        -- an account's first purchase: earliest day, a won deal before an order line, then the lowest id
        SELECT account_id, min({{'d': d, 'src': src, 'id': id}}) AS k FROM (
            SELECT account_id, d, 0 AS src, id FROM won
            UNION ALL SELECT account_id, order_date, 1, id FROM lines)
        WHERE account_id IS NOT NULL
        GROUP BY account_id
    ),
    ev AS (
        {_deal_events("TRUE", "TRUE")}
        UNION ALL SELECT w.account_id, w.d, w.d, 'new_customers', w.owner_id, w.region, w.product_id, 1
        FROM won w JOIN first_key f ON f.account_id = w.account_id AND f.k.src = 0 AND f.k.id = w.id
        UNION ALL SELECT r.account_id, r.order_date, r.order_date, 'new_customers', r.owner_id, ac.region,
               r.product_id, 1
        FROM lines r JOIN first_key f ON f.account_id = r.account_id AND f.k.src = 1 AND f.k.id = r.id
        LEFT JOIN accounts ac ON ac.id = r.account_id
    ),
    order_sums AS (
        SELECT e.account_id, date_trunc('month', e.d)::DATE AS month, e.owner_id, {dept} AS department_id,
               e.product_id, sum(e.value::DOUBLE)::DECIMAL(18, 2) AS value, count(*) AS n
        FROM (SELECT account_id, order_date AS d, order_date AS deal_day, owner_id, product_id, amount AS value
              FROM lines) e
        {dept_join}
        GROUP BY 1, 2, 3, 4, 5
    )
    SELECT e.account_id, date_trunc('month', e.d)::DATE AS month, e.metric, e.owner_id, {dept} AS department_id,
           e.region, e.product_id, sum(e.value::DOUBLE)::DECIMAL(18, 2) AS value, count(*) AS n
    FROM ev e
    {dept_join}
    WHERE e.d IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    UNION ALL
    SELECT s.account_id, s.month, 'order_revenue', s.owner_id, s.department_id, ac.region, s.product_id, s.value, s.n
    FROM order_sums s LEFT JOIN accounts ac ON ac.id = s.account_id
    """


def _fingerprint(cur: Any, *, full: bool) -> str:
    """A cheap signature of the source tables.

    The short form (row counts and top ids) notices bulk loads that bypassed
    the hooks; the full form adds version sums, so a "recompute everything"
    notification that follows no change at all can be skipped.
    """
    # one small statement per table: a lone count/max is answered from statistics
    # in well under a millisecond, while the same aggregates as subqueries of one
    # statement scan the tables
    parts = []
    for table, versioned in (("opportunities", True), ("orders", False), ("payments", True), ("contracts", True)):
        parts.append(cur.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}").fetchone())
        if full and versioned:
            parts.append(cur.execute(f"SELECT coalesce(sum(version), 0) FROM {table}").fetchone())
    parts.append(cur.execute("SELECT count(*), max(valid_from), count(valid_to) FROM user_department_history")
                 .fetchone())
    return "|".join(":".join(str(v) for v in p) for p in parts)


# Accounts waiting to be folded in: explicit requests (refresh_accounts) and the saves' shared queue.
_QUEUED_SQL = f"SELECT account_id FROM plan_facts_dirty UNION ALL {derived.queued_sql('plan')}"
_QUEUED_COUNT_SQL = f"SELECT count(*) FROM ({_QUEUED_SQL})"


def _clear_queue(cur: Any) -> None:
    """Inside a refresh or rebuild: every queued account is folded in."""
    cur.execute("DELETE FROM plan_facts_dirty")
    derived.mark_folded(cur, "plan")


def _set_state(cur: Any, compacted: int | None = None, *, full: bool = True) -> None:
    """Record what the facts were built from. An incremental refresh skips the
    (costlier) full fingerprint: the next "recompute everything" then rebuilds."""
    short = _fingerprint(cur, full=False)
    full = _fingerprint(cur, full=True) if full else None
    cur.execute("""INSERT INTO plan_facts_state (id, fingerprint, full_fingerprint, compacted_rows)
                   VALUES (1, ?, ?, coalesce(?, 0))
                   ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint,
                   full_fingerprint = excluded.full_fingerprint,
                   compacted_rows = coalesce(?, plan_facts_state.compacted_rows), built_at = now()""",
                [short, full, compacted, compacted])


def rebuild_facts(db: Database, *, only_if_stale: bool = False) -> int:
    """Recompute every fact from the source tables. Returns the summary's row count.

    With only_if_stale, first check (holding the writer lock) that the sources
    still differ from what the facts were built from: two page threads that
    both noticed a bulk load rebuild once.
    """
    with db.atomic() as cur:
        # the version this transaction's commit makes: a save committed right after it is not taken as seen
        produced = db.data_version + 1
        if only_if_stale:
            stored = cur.execute("SELECT fingerprint, compacted_rows FROM plan_facts_state WHERE id = 1").fetchone()
            queued = cur.execute(_QUEUED_COUNT_SQL).fetchone()[0]
            if stored is not None and not queued and stored[0] == _fingerprint(cur, full=False):
                _seen[db] = produced
                return stored[1]
        cur.execute("DELETE FROM plan_facts_account")
        cur.execute("DELETE FROM plan_facts")
        _clear_queue(cur)
        # sorted, so min/max indexes skip most row groups: by account for refreshes, by month for reads
        cur.execute("INSERT INTO plan_facts_account SELECT * FROM (" + _events_bulk_sql() + ") ORDER BY account_id")
        cur.execute("""INSERT INTO plan_facts
                       SELECT month, metric, owner_id, department_id, region, product_id, sum(value), sum(n)
                       FROM plan_facts_account GROUP BY ALL ORDER BY month, metric""")
        rows = cur.execute("SELECT count(*) FROM plan_facts").fetchone()[0]
        _set_state(cur, rows)
    _seen[db] = produced
    return rows


def refresh_accounts(db: Database, account_ids: list[int] | None = None) -> bool:
    """Recompute the facts of these accounts (default: those queued by the hooks),
    and of deals without an account. Returns False when there was nothing to do.

    The change is appended to `plan_facts` as a delta (new minus old), so no
    summary row is updated in place; `compact_facts` folds the deltas now and then.
    """
    acct = "({a} IN (SELECT account_id FROM _plan_dirty) OR {a} IS NULL)"
    mine = acct.format(a="account_id")
    with db.atomic() as cur:
        produced = db.data_version + 1
        if account_ids is not None:
            cur.execute("INSERT INTO plan_facts_dirty SELECT unnest(?::BIGINT[])", [list(account_ids)])
        queued = cur.execute(_QUEUED_COUNT_SQL).fetchone()[0]
        if not queued:
            return False
        # the new figures once, into a temporary table of this transaction's connection
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _plan_dirty AS SELECT DISTINCT account_id FROM ({_QUEUED_SQL})")
        cur.execute("CREATE OR REPLACE TEMP TABLE _plan_new AS " + _events_sql(acct))
        try:
            cur.execute(
                f"""INSERT INTO plan_facts
                    SELECT month, metric, owner_id, department_id, region, product_id, sum(value), sum(n)
                    FROM (SELECT month, metric, owner_id, department_id, region, product_id, value, n FROM _plan_new
                          UNION ALL
                          SELECT month, metric, owner_id, department_id, region, product_id, -value, -n
                          FROM plan_facts_account WHERE {mine})
                    GROUP BY ALL HAVING sum(value) <> 0 OR sum(n) <> 0"""
            )
            cur.execute(f"DELETE FROM plan_facts_account WHERE {mine}")
            cur.execute("INSERT INTO plan_facts_account SELECT * FROM _plan_new")
        finally:
            cur.execute("DROP TABLE IF EXISTS _plan_new")
            cur.execute("DROP TABLE IF EXISTS _plan_dirty")
        _clear_queue(cur)
        _set_state(cur, full=False)
        rows, compacted = cur.execute(
            "SELECT (SELECT count(*) FROM plan_facts), (SELECT compacted_rows FROM plan_facts_state WHERE id = 1)"
        ).fetchone()
    _seen[db] = produced  # a compaction below commits again: the next read looks once more (cheaply)
    if rows > max(_COMPACT_MIN_ROWS, 2 * (compacted or 0)):
        compact_facts(db)
    return True


def compact_facts(db: Database) -> int:
    """Fold the appended deltas of `plan_facts` into one row per key."""
    with db.atomic() as cur:
        folded = cur.sql(
            """SELECT month, metric, owner_id, department_id, region, product_id,
                      sum(value)::DECIMAL(18, 2) AS value, sum(n)::BIGINT AS n
               FROM plan_facts GROUP BY ALL HAVING sum(value) <> 0 OR sum(n) <> 0 ORDER BY month, metric"""
        ).pl().to_arrow()
        cur.execute("DELETE FROM plan_facts")
        cur.register("_pf_folded", folded)
        try:
            cur.execute("INSERT INTO plan_facts SELECT * FROM _pf_folded")
        finally:
            cur.unregister("_pf_folded")
        rows = cur.execute("SELECT count(*) FROM plan_facts").fetchone()[0]
        _set_state(cur, rows)
    return rows


# data_version at which each open Database's facts were last known current (weak keys:
# a closed Database's entry goes with it, so a new one at the same address starts unchecked)
_seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_STALE = "stale"  # plan_facts_state.fingerprint after an "any account" notice: rebuild on the next read


def ensure_facts(db: Database) -> None:
    """Bring the facts up to date before a read: the accounts the hooks queued,
    or everything when the sources changed behind the hooks' back (a bulk load).

    Checked once per data version, so a warm page pays nothing.
    """
    seen = db.data_version  # taken before looking: a save committed meanwhile is looked at next time
    if db.read_only or _seen.get(db) == seen:
        return
    with db.cursor() as cur:
        stored = cur.execute("SELECT fingerprint FROM plan_facts_state WHERE id = 1").fetchone()
        queued = cur.execute(_QUEUED_COUNT_SQL).fetchone()[0]
        current = _fingerprint(cur, full=False)
    if stored is None or stored[0] == _STALE:
        # never built: queued accounts (e.g. from the daily jobs) are only part of the picture;
        # or a bulk change said "any account"
        rebuild_facts(db)
    elif queued:
        refresh_accounts(db)
    elif stored[0] != current:
        rebuild_facts(db, only_if_stale=True)
    else:
        _seen[db] = seen


@hooks.on_change(*derived.PLAN_TABLES)
def _on_change(db: Any, account_ids: list[int] | None) -> None:
    """Given accounts are queued by `derived`'s listener, in the queue every summary shares
    (one insert per save); the next read recomputes them in one pass (a write stays fast).

    "Any account" (None) marks the facts stale, unless nothing changed since
    they were built (several bulk notifications in a row): the next read, or
    `derived.refresh_all`, rebuilds them, so a bulk writer (an import of a
    million rows) does not wait for it.
    """
    if db.read_only:
        return
    if account_ids is None:
        with db.atomic() as cur:
            stored = cur.execute("SELECT full_fingerprint FROM plan_facts_state WHERE id = 1").fetchone()
            queued = cur.execute(_QUEUED_COUNT_SQL).fetchone()[0]
            unchanged = stored is not None and not queued and stored[0] == _fingerprint(cur, full=True)
            if not unchanged:
                cur.execute("UPDATE plan_facts_state SET fingerprint = ?, full_fingerprint = NULL WHERE id = 1",
                            [_STALE])
        return


# -- who sees which targets and figures ------------------------------------


def _actor_departments(db: Database, actor: Actor) -> list[int]:
    """A manager's department and the teams under it."""
    if actor.department_id is None:
        return []
    return [r[0] for r in db.rows(
        """WITH RECURSIVE d(id) AS (SELECT ?::BIGINT UNION SELECT x.id FROM departments x JOIN d ON x.parent_id = d.id)
           SELECT id FROM d""", [actor.department_id])]


def target_scope(db: Database, actor: Actor, alias: str = "t") -> tuple[str, list[Any]]:
    """Targets the actor may see: admins and analysts all; managers their team's
    people and their departments; reps their own."""
    if actor.sees_all:
        return "TRUE", []
    own, params = owner_scope(actor, f"{alias}.owner_id")
    if actor.role == "manager":
        depts = _actor_departments(db, actor)
        return (f"({own} OR ({alias}.owner_id IS NULL AND {alias}.department_id IN (SELECT unnest(?::BIGINT[]))))",
                [*params, depts])
    return own, params


def facts_scope(db: Database, actor: Actor, alias: str = "f") -> tuple[str, list[Any]]:
    """Figures the actor may see broken down: their own (rep), their team's and
    departments' (manager), everything (admin, analyst)."""
    if actor.sees_all:
        return "TRUE", []
    own, params = owner_scope(actor, f"{alias}.owner_id")
    if actor.role == "manager":
        depts = _actor_departments(db, actor)
        return f"({own} OR {alias}.department_id IN (SELECT unnest(?::BIGINT[])))", [*params, depts]
    return own, params


# -- the measuring engine --------------------------------------------------


def measure(db: Database, specs: pl.DataFrame, today: date) -> pl.DataFrame:
    """Actual and weighted open pipeline for each spec row.

    `specs` has key, metric, start, end (exclusive), owner_id, department_id,
    region, product_id, account_id (NULL = all). One pass over the facts with
    GROUPING SETS (one set per distinct combination of dimensions), then an
    equality join: cost grows with the number of combinations, not targets.
    """
    if specs.height == 0:
        return pl.DataFrame(schema={"key": pl.Int64, "actual": pl.Float64, "pipeline": pl.Float64})
    specs = specs.with_columns(
        mask=sum(pl.when(pl.col(c).is_null()).then(b).otherwise(0) for c, b in _BITS.items()))
    sets_plain, sets_acct = set(), set()
    for m in specs["mask"].unique().to_list():
        cols = tuple(c for c, b in _BITS.items() if not m & b)
        (sets_acct if "account_id" in cols else sets_plain).add(cols)

    def gsets(sets: set) -> str:
        return ", ".join("(" + ", ".join(("mkey", "month", *cols)) + ")" for cols in sorted(sets))

    def gmask(sets: set) -> str:
        # GROUPING() only takes columns of some grouping set; the others are always "all"
        used = {c for cols in sets for c in cols}
        return " + ".join(f"GROUPING({c}) * {b}" if c in used else str(b) for c, b in _BITS.items())

    def gcols(sets: set) -> str:
        used = {c for cols in sets for c in cols}
        return ", ".join(c if c in used else f"NULL::{_TYPES[c]} AS {c}" for c in _BITS)

    lo, hi = specs["start"].min(), specs["end"].max()
    metrics = specs["metric"].unique().to_list()
    want_pipe = any(m in ("won_amount", "won_count") for m in metrics)
    pick = "(f.metric IN (SELECT unnest($m))" + (" OR f.metric LIKE 'pipeline%')" if want_pipe else ")")
    accounts = [a for a in specs["account_id"].unique().to_list() if a is not None]
    weights = f"""{_PIPE_WEIGHTS},
                  CASE WHEN f.metric LIKE 'pipeline%' THEN 'pipeline' ELSE f.metric END AS mkey"""
    parts = []
    if sets_plain:
        parts.append(f"""SELECT mkey, month, {gcols(sets_plain)}, sum(value) AS value, sum(w_amount) AS w_amount,
                                sum(w_count) AS w_count, {gmask(sets_plain)} AS mask
                         FROM (SELECT f.*, {weights} FROM plan_facts f LEFT JOIN _pm pm ON pm.metric = f.metric
                               WHERE f.month >= $lo AND f.month < $hi AND {pick})
                         GROUP BY GROUPING SETS ({gsets(sets_plain)})""")
    if sets_acct:
        parts.append(f"""SELECT mkey, month, {gcols(sets_acct)}, sum(value) AS value, sum(w_amount) AS w_amount,
                                sum(w_count) AS w_count, {gmask(sets_acct)} AS mask
                         FROM (SELECT f.*, {weights} FROM plan_facts_account f LEFT JOIN _pm pm ON pm.metric = f.metric
                               WHERE f.month >= $lo AND f.month < $hi AND {pick}
                                 AND f.account_id IN (SELECT unnest($acc::BIGINT[])))
                         GROUP BY GROUPING SETS ({gsets(sets_acct)})""")
    join_dims = " AND ".join(f"g.{c} IS NOT DISTINCT FROM s.{c}" for c in _BITS)
    sql = f"""
    WITH _pm AS ({_PIPE_STAGES}),
    g AS ({" UNION ALL ".join(parts)}),
    act AS (
        SELECT s.key, sum(g.value) AS actual FROM _specs s JOIN g
          ON g.mkey = s.metric AND g.mask = s.mask AND {join_dims}
         AND g.month >= s.start AND g.month < s."end"
        GROUP BY s.key
    ),
    pip AS (
        SELECT s.key, sum(CASE s.metric WHEN 'won_amount' THEN g.w_amount ELSE g.w_count END) AS pipeline
        FROM _specs s JOIN g ON g.mkey = 'pipeline' AND g.mask = s.mask AND {join_dims}
         AND g.month >= s.start AND g.month < s."end"
        WHERE s.metric IN ('won_amount', 'won_count')
        GROUP BY s.key
    )
    SELECT s.key, coalesce(act.actual, 0)::DOUBLE AS actual,
           CASE WHEN s.metric IN ('won_amount', 'won_count') THEN coalesce(pip.pipeline, 0) END::DOUBLE AS pipeline
    FROM _specs s LEFT JOIN act ON act.key = s.key LEFT JOIN pip ON pip.key = s.key
    """
    with db.cursor() as cur:
        cur.register("_specs", specs.to_arrow())
        try:
            params = {"lo": lo, "hi": hi, "m": metrics, **({"acc": accounts} if sets_acct else {})}
            return cur.sql(sql, params=params).pl()
        finally:
            cur.unregister("_specs")


def add_attainment(df: pl.DataFrame, starts: pl.Expr, ends: pl.Expr, today: date) -> pl.DataFrame:
    """Attainment %, gap, elapsed share, run-rate projection and pipeline coverage.

    projection = actual ÷ elapsed share for a running period, the actual once it
    is over; coverage = weighted pipeline ÷ remaining gap (NULL when nothing is
    left to win or the period is over).
    """
    today_l = pl.lit(today)
    elapsed = (
        pl.when(today_l < starts).then(0.0)
        .when(today_l >= ends - pl.duration(days=1)).then(1.0)
        .otherwise(((today_l - starts).dt.total_days() + 1) / (ends - starts).dt.total_days())
    )
    df = df.with_columns(elapsed_share=elapsed)
    tgt = pl.col("target")
    gap = (tgt - pl.col("actual"))
    return df.with_columns(
        attainment_pct=pl.when(tgt > 0).then(pl.col("actual") / tgt * 100).otherwise(None).round(1),
        gap=gap.round(2),
        expected_to_date=(tgt * pl.col("elapsed_share")).round(2),
        projection=pl.when(pl.col("elapsed_share") <= 0).then(None)
        .otherwise(pl.col("actual") / pl.col("elapsed_share")).round(2),
        coverage=pl.when((pl.col("elapsed_share") < 1) & (gap > 0) & pl.col("pipeline").is_not_null())
        .then(pl.col("pipeline") / gap).otherwise(None).round(2),
    )


def _names(db: Database) -> dict[str, dict[Any, str]]:
    return {
        "owner_id": dict(db.rows("SELECT id, display_name FROM users")),
        "department_id": dict(db.rows("SELECT id, name FROM departments")),
        "product_id": dict(db.rows("SELECT id, name FROM products")),
    }


def _account_names(db: Database, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.rows("SELECT id, name FROM accounts WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids]))


def _filter_sql(flt: PipelineFilter | None, alias: str) -> tuple[str, list[Any]]:
    """The shared filters' owner, department, region and product on facts or deals (dates and
    sources do not apply: the period is the plan's own, and facts carry no source)."""
    if flt is None:
        return "TRUE", []
    return flt.where(alias, date_column=None, skip=("source",))


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValidationError(f"Unknown metric {metric!r}: expected one of {', '.join(METRICS)}.",
                              field="metric", value=metric)


def _check_by(by: str) -> None:
    if by not in DIMENSIONS:
        raise ValidationError(f"Unknown dimension {by!r}: expected one of {', '.join(DIMENSIONS)}.",
                              field="by", value=by)


# -- the views -------------------------------------------------------------

_GRAIN_MONTHS = "CASE t.grain WHEN 'month' THEN 1 WHEN 'quarter' THEN 3 ELSE 12 END"


def target_actuals(db: Database, actor: Actor, period: Period, *, today: date | None = None,
                   metric: str | None = None, grain: str | None = None) -> pl.DataFrame:
    """Every visible target whose period lies inside `period`, with its actual and attainment.

    This is the grid the page edits: one row per target, any combination of dimensions.
    """
    today = today or date.today()
    ensure_facts(db)
    scope, sp = target_scope(db, actor)
    targets = db.query(
        f"""SELECT t.id, t.version, t.grain, t.period_start, t.metric, t.owner_id, t.department_id, t.region,
                   t.product_id, t.account_id, t.value::DOUBLE AS target, t.note,
                   (t.period_start + to_months({_GRAIN_MONTHS}))::DATE AS period_end
            FROM targets t
            WHERE t.period_start >= ? AND t.period_start < ? AND {scope}
              AND (?::VARCHAR IS NULL OR t.metric = ?) AND (?::VARCHAR IS NULL OR t.grain = ?)
            ORDER BY t.metric, t.grain DESC, t.period_start, t.department_id NULLS FIRST, t.owner_id NULLS FIRST, t.id""",
        [period.start, period.end, *sp, metric, metric, grain, grain],
    )
    specs = targets.select(key=pl.col("id"), metric="metric", start="period_start", end="period_end",
                           owner_id="owner_id", department_id="department_id", region="region",
                           product_id="product_id", account_id="account_id")
    got = measure(db, specs, today)
    df = targets.join(got.rename({"key": "id"}), on="id", how="left", maintain_order="left")
    df = add_attainment(df, pl.col("period_start"), pl.col("period_end"), today)
    fy = period.fy_start
    labels = [periods.Period(g, s, fy).label for g, s in zip(df["grain"], df["period_start"])]
    names = _names(db)
    accts = _account_names(db, [a for a in df["account_id"].to_list() if a is not None])
    return df.with_columns(
        period=pl.Series(labels, dtype=pl.String),
        owner=pl.col("owner_id").replace_strict(names["owner_id"], default=None, return_dtype=pl.String),
        department=pl.col("department_id").replace_strict(names["department_id"], default=None,
                                                          return_dtype=pl.String),
        product=pl.col("product_id").replace_strict(names["product_id"], default=None, return_dtype=pl.String),
        account=pl.col("account_id").replace_strict(accts, default=None, return_dtype=pl.String),
    )


def _member_targets(db: Database, actor: Actor, sig: tuple[str, ...], period: Period, metric: str,
                    extra_cols: tuple[str, ...] = ()) -> pl.DataFrame:
    """Targets set on exactly the dimensions `sig`, per member, for `period`.

    A target of the period's own grain counts as is; otherwise the targets of
    the coarsest finer grain found are added up (three months make a quarter).
    A coarser target (a year, seen by quarter) is not split.
    """
    scope, sp = target_scope(db, actor)
    fixed = " AND ".join([f"t.{c} IS {'NOT ' if c in sig else ''}NULL" for c in _BITS]) or "TRUE"
    cols = ", ".join(f"t.{c}" for c in sig) if sig else "NULL AS _all"
    part = ", ".join(f"t.{c}" for c in sig) if sig else "1"
    return db.query(
        f"""SELECT {cols}, sum(t.value)::DOUBLE AS target, any_value(t.grain) AS target_grain,
                   count(*) AS target_rows
            FROM (SELECT t.*, max({_GRAIN_MONTHS}) OVER (PARTITION BY {part}) AS top
                  FROM targets t
                  WHERE t.metric = ? AND t.period_start >= ? AND t.period_start < ?
                    AND {_GRAIN_MONTHS} <= ? AND {fixed} AND {scope}) t
            WHERE {_GRAIN_MONTHS} = t.top
            GROUP BY ALL""",
        [metric, period.start, period.end, period.months, *sp],
    )


def by_member(db: Database, actor: Actor, by: str, period: Period, metric: str = "won_amount", *,
              today: date | None = None, flt: PipelineFilter | None = None) -> pl.DataFrame:
    """Target against actual per member of one dimension (owner, department, region, product, account).

    Members with a target, an actual or open pipeline in the period are listed; targets are those
    set on that dimension alone. Sorted by actual, largest first (the leaderboard). The
    shared filters (owner, department, region, product) narrow actuals and pipeline.
    """
    _check_by(by)
    _check_metric(metric)
    today = today or date.today()
    ensure_facts(db)
    col = DIM_COLUMNS[by]
    fscope, fp = facts_scope(db, actor)
    fw, fwp = _filter_sql(flt, "f")
    table = "plan_facts_account" if by == "account" else "plan_facts"
    actual = db.query(
        f"""SELECT f.{col} AS member_id, sum(f.value)::DOUBLE AS actual FROM {table} f
            WHERE f.metric = ? AND f.month >= ? AND f.month < ? AND {fscope} AND {fw} GROUP BY 1""",
        [metric, period.start, period.end, *fp, *fwp],
    )
    targets = _member_targets(db, actor, (col,), period, metric).rename({col: "member_id"})
    weight = "w_amount" if metric == "won_amount" else "w_count"
    pipeline = db.query(
        f"""WITH _pm AS ({_PIPE_STAGES})
            SELECT member_id, sum({weight})::DOUBLE AS pipeline FROM (
                SELECT f.{col} AS member_id, {_PIPE_WEIGHTS}
                FROM {table} f LEFT JOIN _pm pm ON pm.metric = f.metric
                WHERE f.metric LIKE 'pipeline%' AND f.month >= ? AND f.month < ? AND {fscope} AND {fw})
            GROUP BY 1""",
        [period.start, period.end, *fp, *fwp],
    ) if metric in ("won_amount", "won_count") else pl.DataFrame(
        schema={"member_id": actual["member_id"].dtype, "pipeline": pl.Float64})
    df = (actual.join(targets.select("member_id", "target"), on="member_id", how="full", coalesce=True)
          .join(pipeline, on="member_id", how="full", coalesce=True)
          .with_columns(pl.col("actual").fill_null(0.0))
          .with_columns(pl.when(pl.lit(metric in ("won_amount", "won_count")))
                        .then(pl.col("pipeline").fill_null(0.0)).otherwise(None).alias("pipeline")))
    df = add_attainment(df, pl.lit(period.start), pl.lit(period.end), today)
    if by == "region":
        names = {v: v for v in df["member_id"].to_list() if v is not None}
    elif by == "account":
        names = _account_names(db, [v for v in df["member_id"].to_list() if v is not None])
    else:
        names = _names(db)[col]
    df = df.with_columns(
        member=pl.col("member_id").cast(pl.String).replace_strict(
            {str(k): v for k, v in names.items()}, default=None, return_dtype=pl.String).fill_null("—"),
        period=pl.lit(period.label), metric=pl.lit(metric), by=pl.lit(by),
    ).sort(["actual", "member"], descending=[True, False])
    return df.with_columns(rank=pl.int_range(1, df.height + 1)).select(
        "by", "member_id", "member", "period", "metric", "target", "actual", "attainment_pct", "gap",
        "elapsed_share", "expected_to_date", "projection", "pipeline", "coverage", "rank")


def headline(db: Database, actor: Actor, members: pl.DataFrame, period: Period, metric: str, *,
             today: date | None = None, flt: PipelineFilter | None = None) -> dict[str, Any]:
    """The page's headline from a `by_member` frame: total actual, pipeline and a target.

    The target is the target set for everyone when the actor sees everything and
    no filter narrows the figures; otherwise the sum of the members' targets.
    """
    today = today or date.today()
    target = None
    if actor.sees_all and (flt is None or flt.is_empty()):
        company = _member_targets(db, actor, (), period, metric)
        target = company["target"][0] if company.height else None
    if target is None and members["target"].is_not_null().any():
        target = float(members["target"].sum())
    row = pl.DataFrame({"target": [target], "actual": [float(members["actual"].sum())],
                        "pipeline": [float(members["pipeline"].sum()) if members["pipeline"].is_not_null().any()
                                     else None]}, schema={"target": pl.Float64, "actual": pl.Float64,
                                                          "pipeline": pl.Float64})
    out = add_attainment(row, pl.lit(period.start), pl.lit(period.end), today).to_dicts()[0]
    out["company_target"] = actor.sees_all and (flt is None or flt.is_empty()) and target is not None
    return out


def _rep_department_on(db: Database, day: date) -> dict[int, int]:
    """Each user's department on `day` (history first, else the current one)."""
    return dict(db.rows(
        """SELECT u.id, coalesce(h.department_id, u.department_id) FROM users u
           LEFT JOIN user_department_history h ON h.user_id = u.id AND h.valid_from <= ?
                AND (h.valid_to IS NULL OR h.valid_to > ?)
           WHERE coalesce(h.department_id, u.department_id) IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY u.id ORDER BY h.valid_from DESC NULLS LAST) = 1""",
        [day, day]))


def rollup(db: Database, actor: Actor, period: Period, metric: str = "won_amount", *,
           today: date | None = None) -> pl.DataFrame:
    """The hierarchy company → department → rep for one metric and period.

    Each row: its own target, the sum of its children's targets, a mismatch flag
    when both exist and differ, and its actual. A rep's actual under a department
    is what they won while in it; a rep's own target sits under the department
    they belong to at the period's end (or today, while the period runs).
    """
    _check_metric(metric)
    today = today or date.today()
    ensure_facts(db)
    fscope, fp = facts_scope(db, actor)
    acts = db.query(
        f"""SELECT f.department_id, f.owner_id, sum(f.value)::DOUBLE AS actual,
                   GROUPING(f.department_id, f.owner_id) AS g
            FROM plan_facts f WHERE f.metric = ? AND f.month >= ? AND f.month < ? AND {fscope}
            GROUP BY GROUPING SETS ((), (f.department_id), (f.department_id, f.owner_id))""",
        [metric, period.start, period.end, *fp],
    )
    company_t = _member_targets(db, actor, (), period, metric)
    dept_t = {r["department_id"]: r["target"] for r in
              _member_targets(db, actor, ("department_id",), period, metric).iter_rows(named=True)}
    rep_t = {r["owner_id"]: r["target"] for r in
             _member_targets(db, actor, ("owner_id",), period, metric).iter_rows(named=True)}
    dept_on = _rep_department_on(db, min(max(today, period.start), period.last_day))
    names = _names(db)
    rows: list[dict[str, Any]] = []
    act = {(r["g"], r["department_id"], r["owner_id"]): r["actual"] for r in acts.iter_rows(named=True)}
    reps_by_dept: dict[Any, set] = {}
    for (g, d, o) in act:
        if g == 0 and o is not None:
            reps_by_dept.setdefault(d, set()).add(o)
    for o in rep_t:
        reps_by_dept.setdefault(dept_on.get(o), set()).add(o)
    depts = set(reps_by_dept) | set(dept_t) | {d for (g, d, _o) in act if g == 1}
    if not actor.sees_all:
        visible = set(_actor_departments(db, actor)) if actor.role == "manager" else set()
        depts = {d for d in depts if d in visible or reps_by_dept.get(d)}

    def node(level: str, name: str, parent: str | None, target: float | None, children: float | None,
             actual: float, dept: Any = None, owner: Any = None) -> dict[str, Any]:
        mismatch = target is not None and children is not None and abs(target - children) > 0.005
        return {"level": level, "name": name, "parent": parent, "department_id": dept, "owner_id": owner,
                "target": target, "children_target": children, "mismatch": mismatch, "actual": actual}

    dept_rows = []
    for d in sorted(depts, key=lambda x: (x is None, names["department_id"].get(x, ""))):
        dname = names["department_id"].get(d, "—") if d is not None else "—"
        rep_rows = []
        for o in sorted(reps_by_dept.get(d, set()), key=lambda x: names["owner_id"].get(x, "")):
            own_target = rep_t.get(o) if dept_on.get(o) == d else None
            rep_rows.append(node("rep", names["owner_id"].get(o, str(o)), dname, own_target, None,
                                 act.get((0, d, o), 0.0), d, o))
        child_targets = [r["target"] for r in rep_rows if r["target"] is not None]
        children = sum(child_targets) if child_targets else None
        dept_rows.append((node("department", dname, "company", dept_t.get(d), children,
                               act.get((1, d, None), 0.0), d), rep_rows))
    if actor.sees_all:
        effective = [r["target"] if r["target"] is not None else r["children_target"] for r, _ in dept_rows]
        eff = [x for x in effective if x is not None]
        ct = company_t["target"][0] if company_t.height else None
        rows.append(node("company", "company", None, ct, sum(eff) if eff else None,
                         act.get((3, None, None), 0.0)))
    for d_row, rep_rows in dept_rows:
        rows.append(d_row)
        rows.extend(rep_rows)
    df = pl.DataFrame(rows, schema={"level": pl.String, "name": pl.String, "parent": pl.String,
                                    "department_id": pl.Int64, "owner_id": pl.Int64, "target": pl.Float64,
                                    "children_target": pl.Float64, "mismatch": pl.Boolean, "actual": pl.Float64})
    df = df.with_columns(pipeline=pl.lit(None, dtype=pl.Float64))
    return add_attainment(df, pl.lit(period.start), pl.lit(period.end), today).drop("pipeline", "coverage")


def cumulative(db: Database, actor: Actor, fiscal_year: Period, metric: str = "won_amount", *,
               by: str | None = None, member: Any = None, today: date | None = None,
               flt: PipelineFilter | None = None) -> pl.DataFrame:
    """Month by month over a fiscal year: actual, cumulative actual, plan and cumulative plan.

    The plan of a month is its month target; else a third of its quarter's
    target; else a twelfth of the year's (for the company, or for one member of
    `by`). Months after today have no actual.
    """
    _check_metric(metric)
    today = today or date.today()
    if fiscal_year.grain != "year":
        fiscal_year = fiscal_year.parent("year")
    ensure_facts(db)
    col = DIM_COLUMNS[by] if by else None
    if col:
        _check_by(by)
    fscope, fp = facts_scope(db, actor)
    table = "plan_facts_account" if col == "account_id" else "plan_facts"
    member_cond = f"AND f.{col} = ?" if col else ""
    fw, fwp = _filter_sql(flt, "f")
    actual = dict(db.rows(
        f"""SELECT f.month, sum(f.value)::DOUBLE FROM {table} f
            WHERE f.metric = ? AND f.month >= ? AND f.month < ? {member_cond} AND {fscope} AND {fw} GROUP BY 1""",
        [metric, fiscal_year.start, fiscal_year.end, *([member] if col else []), *fp, *fwp]))
    scope, sp = target_scope(db, actor)
    fixed = " AND ".join(f"t.{c} IS {'NOT ' if c == col else ''}NULL" for c in _BITS)
    tcond = f"AND t.{col} = ?" if col else ""
    tg = db.rows(
        f"""SELECT t.grain, t.period_start, sum(t.value)::DOUBLE FROM targets t
            WHERE t.metric = ? AND t.period_start >= ? AND t.period_start < ? AND {fixed} {tcond} AND {scope}
            GROUP BY 1, 2""",
        [metric, fiscal_year.start, fiscal_year.end, *([member] if col else []), *sp])
    by_grain: dict[str, dict[date, float]] = {"month": {}, "quarter": {}, "year": {}}
    for g, start, v in tg:
        by_grain[g][start] = v
    rows = []
    cum_a = cum_p = 0.0
    plan_known = False
    for m in fiscal_year.month_starts():
        q = periods.containing(m, "quarter", fiscal_year.fy_start).start
        if m in by_grain["month"]:
            plan = by_grain["month"][m]
        elif q in by_grain["quarter"]:
            plan = by_grain["quarter"][q] / 3
        elif fiscal_year.start in by_grain["year"]:
            plan = by_grain["year"][fiscal_year.start] / 12
        else:
            plan = None
        plan_known = plan_known or plan is not None
        cum_p += plan or 0.0
        a = actual.get(m, 0.0) if m <= today else None
        if a is not None:
            cum_a += a
        rows.append({"month": m, "actual": a, "cumulative_actual": cum_a if a is not None else None,
                     "plan": plan, "cumulative_plan": cum_p if plan_known else None})
    return pl.DataFrame(rows, schema={"month": pl.Date, "actual": pl.Float64, "cumulative_actual": pl.Float64,
                                      "plan": pl.Float64, "cumulative_plan": pl.Float64})


def drill(db: Database, actor: Actor, metric: str, period: Period, *, owner_id: int | None = None,
          department_id: int | None = None, region: str | None = None, product_id: int | None = None,
          account_id: int | None = None, limit: int = 1000) -> pl.DataFrame:
    """The deals, orders or payments behind one figure (only rows the actor may see).

    The same rules as the facts: department on the day of the deal.
    """
    _check_metric(metric)
    scope, sp = owner_scope(actor, "e.owner_id")
    src = {
        "won_amount": """SELECT 'opportunity' AS kind, o.id, o.name, o.account_id, o.owner_id, o.region,
                                o.product_id, o.closed_at AS day, o.closed_at AS deal_day, o.amount AS value
                         FROM opportunities o WHERE o.status = 'won'""",
        "order_revenue": """SELECT 'order' AS kind, r.id, r.order_no AS name, r.account_id, r.owner_id, a.region,
                                   r.product_id, r.order_date AS day, r.order_date AS deal_day, r.amount AS value
                            FROM orders r LEFT JOIN accounts a ON a.id = r.account_id""",
        "collected": """SELECT 'payment' AS kind, p.id, c.contract_no AS name, c.account_id, c.owner_id, a.region,
                               op.product_id, p.paid_date AS day, c.signed_date AS deal_day, p.amount_paid AS value
                        FROM payments p JOIN contracts c ON c.id = p.contract_id
                        LEFT JOIN accounts a ON a.id = c.account_id
                        LEFT JOIN opportunities op ON op.id = c.opportunity_id
                        WHERE p.paid_date IS NOT NULL AND p.amount_paid <> 0""",
        "new_opportunities": """SELECT 'opportunity' AS kind, o.id, o.name, o.account_id, o.owner_id, o.region,
                                       o.product_id, o.created_at::DATE AS day, o.created_at::DATE AS deal_day,
                                       o.amount AS value FROM opportunities o""",
        "new_customers": """SELECT kind, id, name, account_id, owner_id, region, product_id, day, day AS deal_day,
                                   value FROM (
                                SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY day, kind DESC, id) rn
                                FROM (SELECT 'opportunity' AS kind, o.id, o.name, o.account_id, o.owner_id, o.region,
                                             o.product_id, o.closed_at AS day, o.amount AS value
                                      FROM opportunities o WHERE o.status = 'won' AND o.account_id IS NOT NULL
                                      UNION ALL
                                      SELECT 'order', r.id, r.order_no, r.account_id, r.owner_id, a.region,
                                             r.product_id, r.order_date, r.amount
                                      FROM orders r LEFT JOIN accounts a ON a.id = r.account_id))
                            WHERE rn = 1""",
    }
    src["won_count"] = src["won_amount"]
    return db.query(
        f"""WITH e AS ({src[metric]})
            SELECT e.kind, e.id, e.name, ac.name AS account, us.display_name AS owner, dp.name AS department,
                   e.region, pr.name AS product, e.day, e.value
            FROM e
            ASOF LEFT JOIN user_department_history h ON e.owner_id = h.user_id AND e.deal_day >= h.valid_from
            LEFT JOIN users us ON us.id = e.owner_id
            LEFT JOIN accounts ac ON ac.id = e.account_id
            LEFT JOIN products pr ON pr.id = e.product_id
            LEFT JOIN departments dp ON dp.id = CASE WHEN h.user_id IS NOT NULL
                 AND (h.valid_to IS NULL OR e.deal_day < h.valid_to) THEN h.department_id ELSE us.department_id END
            WHERE e.day >= ? AND e.day < ? AND {scope}
              AND (?::BIGINT IS NULL OR e.owner_id = ?)
              AND (?::BIGINT IS NULL OR dp.id = ?)
              AND (?::VARCHAR IS NULL OR e.region = ?)
              AND (?::BIGINT IS NULL OR e.product_id = ?)
              AND (?::BIGINT IS NULL OR e.account_id = ?)
            ORDER BY e.value DESC, e.id
            LIMIT ?""",
        [period.start, period.end, *sp, owner_id, owner_id, department_id, department_id, region, region,
         product_id, product_id, account_id, account_id, limit],
    )


def rep_month_attainment(db: Database, actor: Actor, month: date) -> pl.DataFrame:
    """Won amount against each rep's monthly won-amount target for `month` (kept for callers of the starter)."""
    df = by_member(db, actor, "owner", periods.containing(month, "month", periods.fiscal_year_start_month(db)),
                   "won_amount", today=date.today())
    return df.filter(pl.col("target").is_not_null()).select(owner="member", target="target", actual="actual")


# -- reports ---------------------------------------------------------------


def resolve_period(db: Database, period_text: str | None, grain: str | None, today: date) -> Period:
    """The period a report or page asked for: parsed text, or the current one of `grain`."""
    fy = periods.fiscal_year_start_month(db)
    if period_text:
        return periods.parse_for_grain(period_text, grain, fy)
    return periods.containing(today, grain or "quarter", fy)


def _extra(options: Any, key: str, default: Any = None) -> Any:
    return dict(getattr(options, "extra", ()) or ()).get(key, default)


_NAME_SQL = {"owner_id": "SELECT id, display_name AS name FROM users",
             "department_id": "SELECT id, name FROM departments",
             "product_id": "SELECT id, name FROM products",
             "account_id": "SELECT id, name FROM accounts"}


def _members_all_metrics(db: Database, actor: Actor, by: str, period: Period, metrics: list[str],
                         today: date) -> pl.DataFrame:
    """`by_member` for several metrics at once, concatenated in the order given: the same
    rows, figures and ranks, from one statement instead of about seven per metric.

    One pass over the facts sums every metric's actual per member, one over the
    targets takes each metric's targets on that dimension alone (the coarsest
    grain inside the period per member, as `_member_targets`), and the open
    pipeline is summed once and shared by won_amount (amounts) and won_count
    (counts). Members are matched as `by_member`'s joins do (a NULL member,
    e.g. deals without an owner, is never matched across the three).
    """
    col = DIM_COLUMNS[by]
    table = "plan_facts_account" if by == "account" else "plan_facts"
    fscope, fp = facts_scope(db, actor)
    scope, sp = target_scope(db, actor)
    fixed = " AND ".join(f"t.{c} IS {'NOT ' if c == col else ''}NULL" for c in _BITS)
    won = [m for m in metrics if m in ("won_amount", "won_count")]
    # a region is its own name; the other members' names are joined
    name, name_join = (("r.member_id", "") if by == "region" else
                       ("n.name", f"LEFT JOIN ({_NAME_SQL[col]}) n ON n.id = r.member_id"))
    df = db.query(
        f"""WITH _pm AS ({_PIPE_STAGES}),
            act AS (
                SELECT f.metric, f.{col} AS member_id, sum(f.value)::DOUBLE AS actual FROM {table} f
                WHERE f.metric IN (SELECT unnest(?::VARCHAR[])) AND f.month >= ? AND f.month < ? AND {fscope}
                GROUP BY 1, 2
            ),
            tgt AS (
                SELECT t.metric, t.{col} AS member_id, sum(t.value)::DOUBLE AS target
                FROM (SELECT t.*, max({_GRAIN_MONTHS}) OVER (PARTITION BY t.metric, t.{col}) AS top
                      FROM targets t
                      WHERE t.metric IN (SELECT unnest(?::VARCHAR[])) AND t.period_start >= ? AND t.period_start < ?
                        AND {_GRAIN_MONTHS} <= ? AND {fixed} AND {scope}) t
                WHERE {_GRAIN_MONTHS} = t.top
                GROUP BY 1, 2
            ),
            pip AS (
                SELECT m.metric, p.member_id,
                       CASE m.metric WHEN 'won_amount' THEN p.w_amount ELSE p.w_count END AS pipeline
                FROM (SELECT member_id, sum(w_amount)::DOUBLE AS w_amount, sum(w_count)::DOUBLE AS w_count FROM (
                          SELECT f.{col} AS member_id, {_PIPE_WEIGHTS}
                          FROM {table} f LEFT JOIN _pm pm ON pm.metric = f.metric
                          WHERE f.metric LIKE 'pipeline%' AND f.month >= ? AND f.month < ? AND {fscope})
                      GROUP BY 1) p,
                     (SELECT unnest(?::VARCHAR[]) AS metric) m
            ),
            a_t AS (
                SELECT coalesce(a.metric, t.metric) AS metric, coalesce(a.member_id, t.member_id) AS member_id,
                       a.actual, t.target
                FROM act a FULL JOIN tgt t ON t.metric = a.metric AND t.member_id = a.member_id
            ),
            r AS (
                SELECT coalesce(x.metric, p.metric) AS metric, coalesce(x.member_id, p.member_id) AS member_id,
                       x.target, x.actual, p.pipeline
                FROM a_t x FULL JOIN pip p ON p.metric = x.metric AND p.member_id = x.member_id
            )
            SELECT r.*, {name} AS member FROM r {name_join}""",
        [metrics, period.start, period.end, *fp,
         metrics, period.start, period.end, period.months, *sp,
         period.start, period.end, *fp, won],
    )
    order = {m: i for i, m in enumerate(metrics)}
    df = (df.with_columns(pl.col("actual").fill_null(0.0),
                          pl.when(pl.col("metric").is_in(["won_amount", "won_count"]))
                          .then(pl.col("pipeline").fill_null(0.0)).otherwise(None).alias("pipeline")))
    df = add_attainment(df, pl.lit(period.start), pl.lit(period.end), today)
    df = df.with_columns(pl.col("member").fill_null("—"), period=pl.lit(period.label), by=pl.lit(by),
                         _order=pl.col("metric").replace_strict(order, return_dtype=pl.Int64))
    df = df.sort(["_order", "actual", "member", "member_id"], descending=[False, True, False, False],
                 nulls_last=True)
    return df.with_columns(rank=pl.int_range(1, pl.len() + 1).over("_order")).select(
        "by", "member_id", "member", "period", "metric", "target", "actual", "attainment_pct", "gap",
        "elapsed_share", "expected_to_date", "projection", "pipeline", "coverage", "rank")


def report_plan_vs_actual(db: Database, actor: Actor, options: Any) -> pl.DataFrame:
    """`crm report plan-vs-actual`: every metric per member of --by (default owner) for
    --period (default: the current period of --grain, itself default quarter); the
    rows the page's Overview tab draws (`by_member` of each metric, one after the other)."""
    today = options.today or date.today()
    period = resolve_period(db, options.period, options.grain, today)
    by = options.by or "owner"
    _check_by(by)
    metrics = [_extra(options, "metric")] if _extra(options, "metric") else list(METRICS)
    for m in metrics:
        _check_metric(m)
    ensure_facts(db)
    return _members_all_metrics(db, actor, by, period, metrics, today)


def _report_receivables(db: Database, actor: Actor, options: Any) -> pl.DataFrame:
    from crm_core import receivables

    return receivables.ageing(db, actor, by=options.by if options.by in ("owner", "account") else "owner",
                              today=options.today or date.today())


REPORTS = {"plan-vs-actual": report_plan_vs_actual, "receivables": _report_receivables}
