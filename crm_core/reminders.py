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

The page shows the most urgent `SHOWN_ROWS` rows of each list and the full
count of each (an admin's "stale in stage" holds ~170k deals at 1M
opportunities). `all_reminders` therefore works in two steps: one statement
returns, per list, the full count and the ids of the first rows in the
list's order (`min_by(id, order key, n)`, a top-n aggregate that reads no
names); then one small statement per list fetches those rows by id with
their names. Fetching names for every matching row and sorting them was what
made the lists slow (418 ms for an admin at 1M deals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from crm_core import settings
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError

KINDS = ("overdue_followups", "returning_to_pool", "payments_due", "past_close", "stale_in_stage")
SHOWN_ROWS = 500  # rows of each list the page shows (the most urgent); counts are always complete

# When a deal last moved (the later of stage entry and last activity; its creation when neither is
# known) and when an account was last followed up (else claimed, else created).
_MOVED = "greatest(coalesce(o.stage_entered_at, o.created_at), coalesce(o.last_activity_at, o.created_at))"
_FOLLOWED = "coalesce(a.last_followup_at, a.claimed_at, a.created_at)"
_IDLE = f"date_diff('day', {_MOVED}::DATE, $today::DATE)"
_DAYS_LEFT = f"$return_after - date_diff('day', {_FOLLOWED}::DATE, $today::DATE)"


@dataclass(frozen=True)
class _List:
    """One reminder list: which rows of `table` are on it, in which order, shown with which columns."""

    table: str       # the table the list's rows come from (its `id` identifies a row)
    alias: str
    owner: str       # the owner column the row rules apply to
    rows: str        # condition a row must meet to be on the list
    key: str         # the list's order as one sortable value (ties broken by id)
    columns: str     # the shown columns
    names: str       # joins that only add shown names
    joins: str = ""  # joins `rows` and `owner` need


_LISTS: dict[str, _List] = {
    "overdue_followups": _List(
        "activities", "t", "t.owner_id", "NOT t.done AND t.due_date < $today::DATE", "(t.due_date, t.id)",
        "t.id, t.due_date, date_diff('day', t.due_date, $today::DATE) AS days_overdue, t.subject, "
        "a.name AS account, t.version",
        "LEFT JOIN accounts a ON a.id = t.account_id"),
    "returning_to_pool": _List(
        # as pool.returning_soon: owned, not merged, at most `pool.warn_days` days left; a rep only their own
        # (days_left <= within written as a time bound, and ordered by the follow-up date: same rows and
        # order as by days_left, without computing it for 100k accounts)
        "accounts", "a", "a.owner_id",
        f"a.owner_id IS NOT NULL AND a.merged_into_id IS NULL AND {_FOLLOWED} < $returning_before",
        f"({_FOLLOWED}::DATE, a.name, a.id)",
        f"a.id, a.name, u.display_name AS owner, {_FOLLOWED} AS last_followup, {_DAYS_LEFT} AS days_left",
        "LEFT JOIN users u ON u.id = a.owner_id"),
    "payments_due": _List(
        "payments", "p", "c.owner_id",
        "p.amount_paid < p.amount_due AND c.status <> 'cancelled' AND p.due_date >= $today::DATE "
        "AND p.due_date <= $today::DATE + $payment_days::INTEGER",
        "(p.due_date, p.id)",
        "p.id, p.due_date, c.contract_no, a.name AS account, p.amount_due, p.amount_due - p.amount_paid AS outstanding",
        "LEFT JOIN accounts a ON a.id = c.account_id",
        "JOIN contracts c ON c.id = p.contract_id"),
    "past_close": _List(
        "opportunities", "o", "o.owner_id", "o.status = 'open' AND o.expected_close < $today::DATE",
        "(o.expected_close, o.id)",
        "o.id, o.name, a.name AS account, s.name AS stage, o.expected_close, "
        "date_diff('day', o.expected_close, $today::DATE) AS days_late, o.amount",
        "JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id"),
    "stale_in_stage": _List(
        # idle_days >= stale_days written as a time bound on both dates, and the most idle first as the
        # oldest move first: the same rows and order, without computing idle_days for every open deal
        "opportunities", "o", "o.owner_id",
        "o.status = 'open' AND coalesce(o.stage_entered_at, o.created_at) < $stale_before "
        "AND coalesce(o.last_activity_at, o.created_at) < $stale_before",
        f"({_MOVED}::DATE, o.id)",
        f"o.id, o.name, a.name AS account, s.name AS stage, {_IDLE} AS idle_days, o.amount",
        "JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id"),
}


@dataclass(frozen=True)
class Reminders:
    """Each list's first rows (most urgent first) and its full count, keyed by kind (in `KINDS` order).

    `rows[kind]` holds at most `limit` rows (all of them when `limit` is None);
    `counts[kind]` is the number of rows on the whole list.
    """

    rows: dict[str, pl.DataFrame]
    counts: dict[str, int]
    limit: int | None

    def __getitem__(self, kind: str) -> pl.DataFrame:
        return self.rows[kind]


def _params(db: Database, today: date) -> dict[str, Any]:
    """The settings and dates every list's SQL binds, read in one statement."""
    conf = settings.get_all(db)
    return_after, within = int(conf["pool.return_after_days"]), int(conf["pool.warn_days"])
    stale_days = int(conf["reminders.stale_stage_days"])

    def start_of(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time())

    return {
        "today": today,
        "return_after": return_after,
        "payment_days": int(conf["reminders.payment_due_days"]),
        # days_left = return_after - (today - followed) <= within  <=>  followed <= today - return_after + within
        "returning_before": start_of(today + timedelta(days=within - return_after + 1)),
        # idle = today - moved >= stale_days  <=>  moved <= today - stale_days, for both dates of `greatest`
        "stale_before": start_of(today - timedelta(days=stale_days - 1)),
    }


def _where(actor: Actor, spec: _List, kind: str, params: dict[str, Any]) -> str:
    """The row rules for one list: `access.owner_scope` (its `?` bound by name), plus, as on the pool
    tab, a rep's returning-to-pool list holds only their own accounts."""
    cond, values = owner_scope(actor, spec.owner)
    parts = cond.split("?")
    out = parts[0]
    for i, (value, rest) in enumerate(zip(values, parts[1:])):
        params[f"{kind}_scope{i}"] = value
        out += f"${kind}_scope{i}" + rest
    if kind == "returning_to_pool" and actor.role == "rep":
        params["me"] = actor.id
        out += " AND a.owner_id = $me"
    return out


def _query(db: Database, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    """Run `sql` with the named values it uses (DuckDB refuses values a statement does not name)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return db.query(sql, {k: v for k, v in params.items() if k in used})


def _list(db: Database, actor: Actor, kind: str, params: dict[str, Any], ids: list[int] | None) -> pl.DataFrame:
    """One list's rows in its order: every row on it, or (with `ids`) only those rows."""
    spec = _LISTS[kind]
    p = dict(params)
    source = spec.table
    if ids is not None:
        # The rows by id alone, behind a LIMIT so that DuckDB cannot push the list's other conditions
        # or the joins' filters into this scan: with them it reads the names of every matching row
        # (~120k deals) before dropping all but these (measured 5-10x slower at 1M deals).
        source = f"(SELECT * FROM {spec.table} WHERE list_contains($ids::BIGINT[], id) LIMIT len($ids::BIGINT[]))"
        p["ids"] = ids
    # the list's conditions hold for these rows too: a save between the two statements drops a row, never adds one
    return _query(db, f"""
        SELECT {spec.columns}
        FROM {source} {spec.alias} {spec.joins} {spec.names}
        WHERE {spec.rows} AND {_where(actor, spec, kind, p)}
        ORDER BY {spec.key}""", p)


def overdue_followups(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "overdue_followups", _params(db, today), None)


def payments_due(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "payments_due", _params(db, today), None)


def past_close(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "past_close", _params(db, today), None)


def stale_in_stage(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "stale_in_stage", _params(db, today), None)


def _firsts(db: Database, actor: Actor, params: dict[str, Any], limit: int) -> tuple[dict[str, int],
                                                                                      dict[str, list[int]]]:
    """Every list's full count and the ids of its first `limit` rows, in one statement.

    One aggregate per list, each over its own table with the list's condition
    and row rule in the scan: `min_by(id, order, n)` keeps the n first as it
    goes (no sort of the whole list, no names read). Scanning the deals once
    for both deal lists (per-list FILTERs) measured slower: the conditions
    then run above the scan, and the two aggregates no longer run side by side.
    """
    p = dict(params, limit=limit)
    parts = []
    for kind in KINDS:
        spec = _LISTS[kind]
        parts.append(f"(SELECT count(*) AS {kind}_n, min_by({spec.alias}.id, {spec.key}, $limit) AS {kind}_ids "
                     f"FROM {spec.table} {spec.alias} {spec.joins} "
                     f"WHERE {spec.rows} AND {_where(actor, spec, kind, p)})")
    row = _query(db, "SELECT * FROM " + ", ".join(parts), p).row(0, named=True)
    return ({k: int(row[f"{k}_n"]) for k in KINDS}, {k: list(row[f"{k}_ids"] or []) for k in KINDS})


def all_reminders(db: Database, actor: Actor, *, today: date | None = None,
                  limit: int | None = SHOWN_ROWS) -> Reminders:
    """Every reminder list for the actor: its first `limit` rows, most urgent first, and its full count.

    `limit=None` returns every row of every list (the counts are then the row counts).
    """
    if limit is not None and int(limit) < 1:
        raise ValidationError(f"The number of rows per reminder list must be at least 1; got {limit}.",
                              field="limit", value=limit)
    today = today or date.today()
    params = _params(db, today)
    if limit is None:
        rows = {kind: _list(db, actor, kind, params, None) for kind in KINDS}
        return Reminders(rows=rows, counts={k: df.height for k, df in rows.items()}, limit=None)
    counts, ids = _firsts(db, actor, params, int(limit))
    rows = {kind: _list(db, actor, kind, params, ids[kind]) for kind in KINDS}
    return Reminders(rows=rows, counts=counts, limit=int(limit))
