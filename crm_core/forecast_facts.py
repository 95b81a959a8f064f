"""`forecast_facts`: one row per deal with what its stage history says, kept current on read.

Conversion, drop-off, time in stage and empirical probabilities need, per
deal, which stages it entered and how long it stayed in each. Working that out
on every page view is a window over every stage change (about 4M rows at
benchmark scale) and a 1M x 1M join; `forecast_facts` holds one row per deal
with both its filter attributes and those facts, so the page scans one table.

Why on read rather than in a write hook: every write path (forms, imports,
undo, bulk benchmark loads) stays free of extra cost, and the facts cannot go
stale when a writer forgets to notify. After a write, a read compares cheap
totals: stage_history's row count and highest id, close_date_history's row
count and latest change, opportunities' row count and sum of `version` (every
edit through `records.update_versioned` bumps it). When those moved, or a
writer's `hooks.notify(db, "opportunities" | "activities", None)` said "any
deal", a checksum per block of 4096 ids of every copied column finds the
blocks to recompute; a notify with account ids recomputes those accounts'
blocks (edits that keep `version`, like logging an activity). Anything
unexpected (history rows deleted, back-dated imports, most blocks changed)
rebuilds everything. An UPDATE that neither bumps `version` nor notifies, or
an in-place edit of old history rows, is seen after `rebuild`
(`crm forecast rebuild`). A read-only database reads the facts as last built.
"""

from __future__ import annotations

import threading
from typing import Any

from crm_core import hooks
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
    opp_rows, opp_versions = cur.execute(_OPP_TOTALS).fetchone()
    cur.execute("DELETE FROM forecast_facts_state")
    cur.execute("INSERT INTO forecast_facts_state (id, history_rows, history_max_id, close_rows, close_max_at, "
                "opp_rows, opp_version_sum) VALUES (1, ?, ?, ?, ?, ?, ?)",
                [count, top, moves, last_move, opp_rows, opp_versions])


_OPP_TOTALS = "SELECT count(*), coalesce(sum(version), 0)::HUGEINT FROM opportunities"


def _stale_blocks(cur: Any, notified: set[int] | None) -> list[int] | None:
    """Blocks to recompute ([] = current); None = rebuild everything.

    `notified`: accounts whose deals writers reported changed (None = any).
    """
    row = cur.execute("SELECT history_rows, history_max_id, close_rows, close_max_at, opp_rows, opp_version_sum "
                      "FROM forecast_facts_state WHERE id = 1").fetchone()
    if row is None:
        return None
    state, close_state, opp_state = row[:2], row[2:4], row[4:]
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
    if notified is None or tuple(cur.execute(_OPP_TOTALS).fetchone()) != tuple(opp_state):
        # rows added, deleted or edited through update_versioned, or a writer said "any":
        # find the blocks whose checksum moved
        moved = cur.execute(
            f"""
            SELECT coalesce(n.block, b.block) FROM ({_BLOCKS_NOW}) n
            FULL JOIN forecast_facts_blocks b ON b.block = n.block
            WHERE n.deals IS DISTINCT FROM b.deals OR n.version_sum IS DISTINCT FROM b.version_sum
            """
        ).fetchall()
        dirty.update(r[0] for r in moved)
    if notified:
        # edits that keep `version` (e.g. last_activity_at when an activity is logged) come with a notify
        dirty.update(r[0] for r in cur.execute(
            f"SELECT DISTINCT id >> {BLOCK_SHIFT} FROM opportunities WHERE account_id IN (SELECT unnest(?::BIGINT[]))",
            [sorted(notified)]).fetchall())
    known = cur.execute("SELECT count(*) FROM forecast_facts_blocks").fetchone()[0]
    if len(dirty) > max(8, known // 4):
        return None  # most of the table moved (a bulk load): one full rebuild is faster than block by block
    return sorted(dirty)


# (database path, data_version) last found current. A DuckDB file has one
# writing process and every write commits through Database.atomic(), which
# bumps data_version, so an unchanged version means unchanged data.
_current: dict[int, tuple[str, int]] = {}
# Accounts whose deals writers reported changed since the last check, per
# database (None = any). Recording costs the writer nothing.
_notified: dict[int, set[int] | None] = {}
_lock = threading.Lock()


@hooks.on_change("opportunities", "activities")
def _note_change(db: Any, account_ids: list[int] | None) -> None:
    with _lock:
        if account_ids is None:
            _notified[id(db)] = None
        elif _notified.get(id(db), set()) is not None:
            _notified.setdefault(id(db), set()).update(account_ids)


def ensure_current(db: Database) -> str:
    """Bring forecast_facts up to date; returns the table name to read them from.

    After a write this costs a few row counts and sums (a few ms at 1M deals);
    blocks are checksummed only when those moved or a writer said "any deal".
    """
    seen = (db.path, db.data_version)  # taken before looking, so a write meanwhile is not missed
    with _lock:
        if _current.get(id(db)) == seen and id(db) not in _notified:
            return "forecast_facts"
        notified = _notified.pop(id(db), set())
    try:
        with db.cursor() as cur:
            stale = _stale_blocks(cur, notified)
        if stale == [] or db.read_only:
            _current[id(db)] = seen
            return "forecast_facts"
        with db.atomic() as cur:
            # Look again inside the writer lock: another thread may have refreshed meanwhile.
            stale = _stale_blocks(cur, notified)
            if stale != []:
                _refresh(cur, stale)
    except BaseException:
        with _lock:  # not done: keep the notice for the next read
            if notified is None or _notified.get(id(db), set()) is None:
                _notified[id(db)] = None
            else:
                _notified.setdefault(id(db), set()).update(notified)
        raise
    return "forecast_facts"  # our own commit bumped data_version: the next read checks once more


def rebuild(db: Database) -> int:
    """Recompute every deal's facts from scratch; returns the number of deals."""
    with db.atomic() as cur:
        _refresh(cur, None)
    return int(db.scalar("SELECT count(*) FROM forecast_facts") or 0)
