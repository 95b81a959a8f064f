"""The funnel: where the deals of a period are now, how each stage converts,
where they drop off and how long they stay.

The cohort is the deals created in the filter's period (plus its owner,
department, region, product and source choices). For every funnel stage
(open stages in pipeline order, then Won):

- deals / amount: cohort deals in that stage now (open; for Won, won);
- entered: cohort deals that ever entered the stage (stage_history);
- advanced: of those, the ones that also entered any later funnel stage;
- conversion = advanced / entered; drop_off = entered - advanced;
- lost_here: deals lost while in this stage;
- avg_days: mean days a deal spent in the stage, over deals that left it.

One aggregate pass over `forecast_facts` (one row per deal) folds the cohort
into a few hundred combinations; every figure is derived from those.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import funnel_sequence, group_parts, labelled, ratio, scope_where
from crm_core.forecast_facts import ensure_current

_MASK = "o.entered_mask"


def cohort_combos(db: Database, actor: Actor, flt: PipelineFilter | None = None, *,
                  by: str | None = None) -> pl.DataFrame:
    """The cohort folded to one row per (group, stage, status, lost-from stage, stages entered).

    A few hundred rows however many deals there are: the funnel and the
    empirical probabilities are derived from it without touching deals again.
    """
    flt = flt or PipelineFilter()
    facts = ensure_current(db)
    seq = funnel_sequence(db)
    select_group, group_by = group_parts(by)
    days = ", ".join(f"sum(o.days_{st.id}) AS s{st.id}, count(o.days_{st.id}) AS c{st.id}" for st in seq)
    where, wp = scope_where(actor, flt, date_column="created_at")
    sql = f"""
        SELECT {select_group}o.stage_id, o.status, o.lost_from_stage, o.entered_mask,
               count(*) AS n, sum(o.amount) AS amount{', ' + days if days else ''}
        FROM {facts} o
        WHERE {where}
        GROUP BY {group_by + ', ' if by else ''}o.stage_id, o.status, o.lost_from_stage, o.entered_mask
    """
    return db.query(labelled(by, sql), wp)


def funnel(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, by: str | None = None,
           combos: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per (group,) funnel stage; see the module docstring for each column."""
    seq = funnel_sequence(db)
    if combos is None:
        combos = cohort_combos(db, actor, flt, by=by)
    groups: dict[Any, dict[str, Any]] = {}
    for c in combos.iter_rows(named=True):
        key = c["group_id"] if by else None
        g = groups.setdefault(key, {"label": c[by] if by else None, "rows": []})
        g["rows"].append(c)
    if not groups and by is None:
        groups[None] = {"label": None, "rows": []}
    out = []
    for key, g in sorted(groups.items(), key=lambda kv: (str(kv[1]["label"]), str(kv[0]))):
        for i, st in enumerate(seq):
            bit = 1 << st.id
            later = 0
            for nxt in seq[i + 1:]:
                later |= 1 << nxt.id
            status = "won" if st.is_won else "open"
            deals = entered = advanced = lost = days_n = 0
            amount = Decimal(0)
            days_sum = 0.0
            for c in g["rows"]:
                if c["stage_id"] == st.id and c["status"] == status:
                    deals += c["n"]
                    amount += c["amount"]
                if c["entered_mask"] & bit:
                    entered += c["n"]
                    if c["entered_mask"] & later:
                        advanced += c["n"]
                if c["status"] == "lost" and c["lost_from_stage"] == st.id:
                    lost += c["n"]
                days_n += c.get(f"c{st.id}") or 0
                days_sum += c.get(f"s{st.id}") or 0.0
            last = i == len(seq) - 1 or st.is_won
            row = {} if by is None else {"group_id": None if key is None else str(key), by: g["label"]}
            row.update({
                "position": i + 1, "stage_id": st.id, "stage": st.name, "is_won": st.is_won,
                "deals": deals, "amount": amount, "entered": entered,
                "advanced": None if last else advanced,
                "conversion": None if last else ratio(advanced, entered),
                "drop_off": None if last else entered - advanced,
                "drop_off_rate": None if last or not entered else 1 - advanced / entered,
                "lost_here": None if st.is_won else lost,
                "avg_days": round(days_sum / days_n, 2) if days_n else None,
            })
            out.append(row)
    schema = {"position": pl.Int64, "stage_id": pl.Int64, "stage": pl.Utf8, "is_won": pl.Boolean,
              "deals": pl.Int64, "amount": pl.Decimal(18, 2), "entered": pl.Int64, "advanced": pl.Int64,
              "conversion": pl.Float64, "drop_off": pl.Int64, "drop_off_rate": pl.Float64,
              "lost_here": pl.Int64, "avg_days": pl.Float64}
    if by:
        schema = {"group_id": pl.Utf8, by: pl.Utf8, **schema}
    return pl.DataFrame(out, schema=schema)


_STAGE_DEALS_SCHEMA = {"id": pl.Int64, "name": pl.Utf8, "account": pl.Utf8, "owner": pl.Utf8,
                       "amount": pl.Decimal(18, 2), "probability": pl.Float64, "expected_close": pl.Date,
                       "days_in_stage": pl.Int64, "last_activity_at": pl.Datetime("us")}


def stage_deals(db: Database, actor: Actor, flt: PipelineFilter | None, stage_id: int, *,
                today: date | None = None, limit: int = 500) -> pl.DataFrame:
    """The cohort's deals now in `stage_id` (open ones; won ones for a won stage), biggest first.

    Three small statements rather than one. Reading a deal's name, dates and
    ids for every deal of the stage (320k won deals at 1m scale) to keep 500
    cost 90-120 ms: the columns are decompressed a whole vector at a time and
    the 500 biggest lie in every vector. So: the stage's status (bound, so it
    filters inside the scan rather than through a join), the ids of the top
    `limit` by amount from the narrow columns, then only those rows fetched
    through the primary key (an index scan up to 2,048 ids) with their account
    and owner names. The fetch repeats the stage, status and scope conditions,
    so a deal moved or reassigned between the statements is left out rather
    than shown where it no longer is.
    """
    flt = flt or PipelineFilter()
    today = today or date.today()
    where, wp = scope_where(actor, flt, date_column="created_at")
    where_t, wp_t = scope_where(actor, flt, date_column="created_at", alias="t")
    # None for an unknown stage id: `o.status = NULL` keeps nothing, as the join on stages did.
    status = db.scalar("SELECT CASE WHEN is_won THEN 'won' ELSE 'open' END FROM stages WHERE id = ?", [stage_id])
    ids = [r[0] for r in db.rows(f"SELECT o.id FROM opportunities o WHERE o.stage_id = ? AND o.status = ? AND {where} "
                                 "ORDER BY o.amount DESC, o.id LIMIT ?", [stage_id, status, *wp, limit])]
    if not ids:
        return pl.DataFrame(schema=_STAGE_DEALS_SCHEMA)
    # One placeholder per id: a literal list is what DuckDB answers with an index scan.
    rows = db.rows(
        f"""
        WITH top AS MATERIALIZED (
            SELECT o.id, o.name, o.account_id, o.owner_id, o.amount, o.probability, o.expected_close,
                   o.stage_entered_at, o.created_at, o.last_activity_at, o.stage_id, o.status,
                   o.department_id, o.region, o.product_id, o.source
            FROM opportunities o
            WHERE o.id IN ({", ".join("?" * len(ids))})
        )
        SELECT t.id, t.name, a.name AS account, u.display_name AS owner, t.amount,
               coalesce(t.probability, s.probability) AS probability, t.expected_close,
               date_diff('day', coalesce(t.stage_entered_at, t.created_at)::DATE, ?::DATE) AS days_in_stage,
               t.last_activity_at
        FROM top t
        JOIN stages s ON s.id = ?
        LEFT JOIN accounts a ON a.id = t.account_id
        LEFT JOIN users u ON u.id = t.owner_id
        WHERE t.stage_id = ? AND t.status = ? AND {where_t}
        ORDER BY t.amount DESC, t.id
        """,
        [*ids, today, stage_id, stage_id, status, *wp_t],
    )
    # Rows, not db.query: its relation plans the statement twice, and planning
    # a 500-value IN list is most of this statement's time.
    return pl.DataFrame(rows, schema=_STAGE_DEALS_SCHEMA, orient="row")
