"""`forecast_facts`: one row per deal with what its stage history says, kept current on read.

Conversion, drop-off, time in stage and empirical probabilities need, per
deal, which stages it entered and how long it stayed in each. Working that out
on every page view is a window over every stage change (about 4M rows at
benchmark scale) and a 1M x 1M join; `forecast_facts` holds one row per deal
with both its filter attributes and those facts, so the page scans one table.

Why on read rather than in a write hook: every write path (forms, imports,
undo, bulk benchmark loads) stays free of extra cost, and the facts cannot go
stale when a writer forgets to notify. A read compares fingerprints: per
block of 4096 opportunity ids the row count and a checksum of the copied
columns, for stage_history its row count and highest id, for
close_date_history its row count and latest change time. Blocks that
changed, and blocks whose deals gained stage changes, are recomputed; anything
else unexpected (history rows deleted or ids reused) rebuilds everything. The
check runs once per committed write (see `_current`); in-place edits of
stage_history rows are not seen until `rebuild` (`crm forecast rebuild`).
A read-only database reads the facts as last built.
"""

from __future__ import annotations

from typing import Any

from crm_core.db import Database
from crm_core.errors import CrmError

MAX_STAGE_ID = 63  # one bit per stage id in entered_mask (UBIGINT)
BLOCK_SHIFT = 12   # 4096 ids per fingerprint block

_COPIED = ("version, account_id, owner_id, department_id, region, product_id, source, stage_id, status, amount, "
           "created_at, closed_at, expected_close")
_CHECKED = _COPIED + ", last_activity_at, stage_entered_at"

# Per block: row count and a checksum of every copied column (stored in
# forecast_facts_blocks.version_sum), so any change to a deal is seen, even an
# UPDATE that does not bump `version`.
_BLOCKS_NOW = f"SELECT id >> {BLOCK_SHIFT} AS block, count(*) AS deals, " \
              f"sum(hash({_CHECKED}))::HUGEINT AS version_sum FROM opportunities GROUP BY 1"


def _top_stage_id(db: Any) -> int:
    top = db.execute(
        "SELECT greatest((SELECT coalesce(max(id), 0) FROM stages),"
        " (SELECT coalesce(max(greatest(to_stage_id, coalesce(from_stage_id, 0))), 0) FROM stage_history))"
    ).fetchone()[0] or 0
    if top > MAX_STAGE_ID:
        raise CrmError(
            f"The forecast supports stage ids up to {MAX_STAGE_ID}; stage id {top} exists. "
            "Reuse or renumber stages to keep the funnel figures available."
        )
    return max(int(top), 1)


def _insert_sql(top_stage: int, blocks: list[int] | None) -> tuple[str, list[Any]]:
    """The INSERT that fills forecast_facts for `blocks` (None = every deal), and its parameters."""
    ids = list(range(1, top_stage + 1))
    names = ", ".join(f"days_{i}" for i in ids)
    days = ", ".join(
        f"sum(epoch(left_at) - epoch(changed_at)) FILTER (WHERE to_stage_id = ? AND left_at IS NOT NULL) "
        f"/ 86400.0 AS days_{i}" for i in ids
    )
    hist_where = opp_where = "TRUE"
    subset: list[Any] = []
    if blocks is not None:
        hist_where = f"opportunity_id >> {BLOCK_SHIFT} IN (SELECT unnest(?::BIGINT[]))"
        opp_where = f"o.id >> {BLOCK_SHIFT} IN (SELECT unnest(?::BIGINT[]))"
        subset = [blocks]
    sql = f"""
        INSERT INTO forecast_facts (id, {_COPIED}, last_touch, slips, slip_days, first_close,
                                    entered_mask, lost_from_stage, {names})
        WITH h AS (
            SELECT opportunity_id, from_stage_id, to_stage_id, changed_at,
                   lead(changed_at) OVER (PARTITION BY opportunity_id ORDER BY changed_at, id) AS left_at
            FROM stage_history
            WHERE {hist_where}
        ), agg AS (
            SELECT opportunity_id,
                   bit_or((1::UBIGINT << to_stage_id::UTINYINT)
                          | coalesce(1::UBIGINT << from_stage_id::UTINYINT, 0::UBIGINT)) AS entered_mask,
                   arg_max(from_stage_id, changed_at)
                       FILTER (WHERE to_stage_id IN (SELECT id FROM stages WHERE is_lost)) AS lost_from_stage,
                   {days}
            FROM h
            GROUP BY opportunity_id
        ), slip AS (
            SELECT opportunity_id, count(*) AS slips, sum(date_diff('day', old_date, new_date)) AS slip_days,
                   min(old_date) AS first_close
            FROM close_date_history
            WHERE new_date > old_date AND {hist_where}
            GROUP BY opportunity_id
        )
        SELECT o.id, {', '.join('o.' + c.strip() for c in _COPIED.split(','))},
               coalesce(o.last_activity_at, o.stage_entered_at, o.created_at)::DATE,
               coalesce(slip.slips, 0), coalesce(slip.slip_days, 0), slip.first_close,
               -- a deal with no stage history has at least entered its current stage
               coalesce(agg.entered_mask, 1::UBIGINT << o.stage_id::UTINYINT), agg.lost_from_stage, {names}
        FROM opportunities o
        LEFT JOIN agg ON agg.opportunity_id = o.id
        LEFT JOIN slip ON slip.opportunity_id = o.id
        WHERE {opp_where}
        -- stored in creation order, so a period filter skips whole row groups by their min/max
        ORDER BY o.created_at
    """
    return sql, [*subset, *ids, *subset, *subset]


def _refresh(cur: Any, blocks: list[int] | None) -> None:
    top_stage = _top_stage_id(cur)
    sql, params = _insert_sql(top_stage, blocks)
    if blocks is None:
        cur.execute("DELETE FROM forecast_facts")
        cur.execute("DELETE FROM forecast_facts_blocks")
        cur.execute(sql, params)
        cur.execute(f"INSERT INTO forecast_facts_blocks {_BLOCKS_NOW}")
    else:
        cur.execute(f"DELETE FROM forecast_facts WHERE id >> {BLOCK_SHIFT} IN (SELECT unnest(?::BIGINT[]))",
                    [blocks])
        cur.execute("DELETE FROM forecast_facts_blocks WHERE block IN (SELECT unnest(?::BIGINT[]))", [blocks])
        cur.execute(sql, params)
        cur.execute(f"INSERT INTO forecast_facts_blocks SELECT * FROM ({_BLOCKS_NOW}) "
                    "WHERE block IN (SELECT unnest(?::BIGINT[]))", [blocks])
    count, top = cur.execute("SELECT count(*), coalesce(max(id), 0) FROM stage_history").fetchone()
    moves, last_move = cur.execute("SELECT count(*), max(changed_at) FROM close_date_history").fetchone()
    cur.execute("DELETE FROM forecast_facts_state")
    cur.execute("INSERT INTO forecast_facts_state (id, history_rows, history_max_id, close_rows, close_max_at) "
                "VALUES (1, ?, ?, ?, ?)", [count, top, moves, last_move])


def _stale_blocks(cur: Any) -> list[int] | None:
    """Blocks to recompute ([] = current); None = rebuild everything."""
    row = cur.execute("SELECT history_rows, history_max_id, close_rows, close_max_at FROM forecast_facts_state "
                      "WHERE id = 1").fetchone()
    if row is None:
        return None
    state, close_state = row[:2], row[2:]
    count, top = cur.execute("SELECT count(*), coalesce(max(id), 0) FROM stage_history").fetchone()
    dirty: set[int] = set()
    if (count, top) != state:
        added = cur.execute(
            f"SELECT count(*), list(DISTINCT opportunity_id >> {BLOCK_SHIFT}) FROM stage_history WHERE id > ?",
            [state[1]],
        ).fetchone()
        if count - state[0] != added[0]:
            return None  # rows deleted or inserted below the old top: start again
        dirty.update(added[1] or [])
    moves = cur.execute("SELECT count(*), max(changed_at) FROM close_date_history").fetchone()
    if moves != close_state:
        added = cur.execute(
            f"SELECT count(*), list(DISTINCT opportunity_id >> {BLOCK_SHIFT}) FROM close_date_history "
            "WHERE changed_at > coalesce(?, TIMESTAMP '0001-01-01')",
            [close_state[1]],
        ).fetchone()
        if moves[0] - (close_state[0] or 0) != added[0]:
            return None  # moves deleted or back-dated: start again
        dirty.update(added[1] or [])
    moved = cur.execute(
        f"""
        SELECT coalesce(n.block, b.block) FROM ({_BLOCKS_NOW}) n
        FULL JOIN forecast_facts_blocks b ON b.block = n.block
        WHERE n.deals IS DISTINCT FROM b.deals OR n.version_sum IS DISTINCT FROM b.version_sum
        """
    ).fetchall()
    dirty.update(r[0] for r in moved)
    known = cur.execute("SELECT count(*) FROM forecast_facts_blocks").fetchone()[0]
    if len(dirty) > max(8, known // 4):
        return None  # most of the table moved (a bulk load): one full rebuild is faster than block by block
    return sorted(dirty)


# (database path, data_version) last found current. A DuckDB file has one
# writing process and every write commits through Database.atomic(), which
# bumps data_version, so an unchanged version means unchanged data.
_current: dict[int, tuple[str, int]] = {}


def ensure_current(db: Database) -> str:
    """Bring forecast_facts up to date; returns the table name to read them from."""
    seen = (db.path, db.data_version)  # taken before looking, so a write meanwhile is not missed
    if _current.get(id(db)) == seen:
        return "forecast_facts"
    with db.cursor() as cur:
        stale = _stale_blocks(cur)
    if stale == [] or db.read_only:
        _current[id(db)] = seen
        return "forecast_facts"
    with db.atomic() as cur:
        # Look again inside the writer lock: another thread may have refreshed meanwhile.
        stale = _stale_blocks(cur)
        if stale != []:
            _refresh(cur, stale)
    return "forecast_facts"  # our own commit bumped data_version: the next read checks once more


def rebuild(db: Database) -> int:
    """Recompute every deal's facts from scratch; returns the number of deals."""
    with db.atomic() as cur:
        _refresh(cur, None)
    return int(db.scalar("SELECT count(*) FROM forecast_facts") or 0)
