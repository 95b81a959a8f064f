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
opportunities). `all_reminders` reads them with two pieces of work side by
side, on two threads (each a cursor of its own):

1. the deal lists, in one read-only transaction: the table's bounds (whether
   the BIGINT rank below is exact), then both lists' full counts and first
   rows as ranks `day * 2^40 + id` (`min(rank, n)`: a top-n aggregate that
   reads no names; the two scans of the deals side by side), then those deals
   by id through the primary key with their names. The rank gives back each
   row's id and its day, so the shown date and the days late or idle are not
   read again, and the transaction (one snapshot) means the lists' conditions
   need not be checked again on the rows read by id;
2. the task, pool and payment lists' counts and first rows, one statement
   (read whole: a top-n on the table's own columns, names joined to those rows
   only; the pool list, ordered by name within a day, picks among its rows'
   ids first; the few payments of the window in one pass).

Reading a deal's name is what costs: the names of the ~120k-170k matching
deals cost ~60 ms to decode, while a fetch of ~1,000 deals by id reads only
those (still ~20 ms: each row fetched alone). DuckDB runs the branches of one
statement one after another when each is a single-threaded scan (the fetch by
id, the 100k accounts, the small lists), which is why the second piece has a
thread of its own. Inside `db.atomic()` both run on the caller's thread, in
its transaction. An admin at 1M deals (after-write calls, old and new
interleaved in the same minute on a shared 2-core machine): wall median
83 -> 64 ms and CPU 128 -> 114 ms with the other core mostly free, 106 -> 90
ms with a neighbour on it; per piece (CPU, quiet): the deal scans ~28 ms, the
fetch by id ~18-20 ms, the table bounds ~2-4 ms, the three small lists ~6, 12
and 13 ms, Python ~5 ms. What the deal side still spends is two scans of 1M
rows and ~10 us per deal read by id. In `crm bench`'s own state (the data
generated in the same process, never reopened) the same calls cost ~1.4x the
CPU (the small lists and the fetch by id; single-table scans cost the same):
interleaved there, 124 -> 99 ms wall, CPU 188 -> 168 ms; neither a 4 GB
memory_limit, nor `bench.release_memory()`, nor a CHECKPOINT changed that, a
close and reopen of the file did (CPU ~150 -> ~115 ms, same process).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from crm_core import settings
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError

# `_query` takes a statement's few hundred rows as Arrow from `execute`; DuckDB notes each time that this
# copies the rows (which costs less than binding the statement twice, as `cursor.sql` does)
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)

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
    order: tuple[str, ...]  # the list's order (the last key is the row's id, so no two rows tie)
    columns: tuple[str, ...]  # the shown columns, each `expr AS name` or `alias.column`
    names: str       # joins that only add shown names
    joins: str = ""  # joins `rows` and `owner` need
    by_id: bool = False  # first rows picked as ids, then read by id (lists too long to read names for)
    short: bool = False  # few rows by nature: counted and ordered in one pass, names read for all of them
    named_order: bool = False  # the order reads a name: first rows picked among the rows' ids, dates only
    # (by_id lists) the table's columns the order's day is computed from: the BIGINT rank is exact while
    # they lie within `_rank_bounds`
    day_columns: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.rsplit(" AS ", 1)[-1].rsplit(".", 1)[-1] for c in self.columns]


_LISTS: dict[str, _List] = {
    "overdue_followups": _List(
        "activities", "t", "t.owner_id", "NOT t.done AND t.due_date < $today::DATE", ("t.due_date", "t.id"),
        ("t.id", "t.due_date", "date_diff('day', t.due_date, $today::DATE) AS days_overdue", "t.subject",
         "a.name AS account", "t.version"),
        "LEFT JOIN accounts a ON a.id = t.account_id"),
    "returning_to_pool": _List(
        # as pool.returning_soon: owned, not merged, at most `pool.warn_days` days left; a rep only their own
        # (days_left <= within written as a time bound, and ordered by the follow-up date: same rows and
        # order as by days_left, without computing it for 100k accounts)
        "accounts", "a", "a.owner_id",
        f"a.owner_id IS NOT NULL AND a.merged_into_id IS NULL AND {_FOLLOWED} < $returning_before",
        (f"{_FOLLOWED}::DATE", "a.name", "a.id"),
        ("a.id", "a.name", "u.display_name AS owner", f"{_FOLLOWED} AS last_followup", f"{_DAYS_LEFT} AS days_left"),
        "LEFT JOIN users u ON u.id = a.owner_id", named_order=True),
    "payments_due": _List(
        "payments", "p", "c.owner_id",
        "p.amount_paid < p.amount_due AND c.status <> 'cancelled' AND p.due_date >= $today::DATE "
        "AND p.due_date <= $payments_until::DATE",
        ("p.due_date", "p.id"),
        ("p.id", "p.due_date", "c.contract_no", "a.name AS account", "p.amount_due",
         "p.amount_due - p.amount_paid AS outstanding"),
        "LEFT JOIN accounts a ON a.id = c.account_id",
        "JOIN contracts c ON c.id = p.contract_id", short=True),
    "past_close": _List(
        "opportunities", "o", "o.owner_id", "o.status = 'open' AND o.expected_close < $today::DATE",
        ("o.expected_close", "o.id"),
        ("o.id", "o.name", "a.name AS account", "s.name AS stage", "o.expected_close",
         "date_diff('day', o.expected_close, $today::DATE) AS days_late", "o.amount"),
        "JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id", by_id=True,
        day_columns=("expected_close",)),
    "stale_in_stage": _List(
        # idle_days >= stale_days written as a time bound on both dates, and the most idle first as the
        # oldest move first: the same rows and order, without computing idle_days for every open deal
        "opportunities", "o", "o.owner_id",
        "o.status = 'open' AND coalesce(o.stage_entered_at, o.created_at) < $stale_before "
        "AND coalesce(o.last_activity_at, o.created_at) < $stale_before",
        (f"{_MOVED}::DATE", "o.id"),
        ("o.id", "o.name", "a.name AS account", "s.name AS stage", f"{_IDLE} AS idle_days", "o.amount"),
        "JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id", by_id=True,
        day_columns=("stage_entered_at", "last_activity_at", "created_at")),
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
        # the window's last day as a value, so that the scan filters on both ends
        "payments_until": today + timedelta(days=int(conf["reminders.payment_due_days"])),
        # days_left = return_after - (today - followed) <= within  <=>  followed <= today - return_after + within
        "returning_before": start_of(today + timedelta(days=within - return_after + 1)),
        # idle = today - moved >= stale_days  <=>  moved <= today - stale_days, for both dates of `greatest`
        "stale_before": start_of(today - timedelta(days=stale_days - 1)),
    }


def _where(actor: Actor, spec: _List, kind: str, params: dict[str, Any]) -> str:
    """The list's condition and row rules: `access.owner_scope` (its `?` bound by name), plus, as on the
    pool tab, a rep's returning-to-pool list holds only their own accounts."""
    cond, values = owner_scope(actor, spec.owner)
    parts = cond.split("?")
    out = parts[0]
    for i, (value, rest) in enumerate(zip(values, parts[1:])):
        params[f"{kind}_scope{i}"] = value
        out += f"${kind}_scope{i}" + rest
    if kind == "returning_to_pool" and actor.role == "rep":
        params["me"] = actor.id
        out += " AND a.owner_id = $me"
    return f"{spec.rows} AND {out}"


def _bound(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`sql` with the named values it uses (DuckDB refuses values a statement does not name)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return sql, {k: v for k, v in params.items() if k in used}


def _arrow(db: Database | duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pa.Table:
    """Run `sql` (its named values bound by `_bound`) on a cursor of its own or on the given one
    (`_snapshot`'s); the result as Arrow.

    Through `execute` rather than `db.query`: `cursor.sql` binds a statement once to describe it and
    again to run it, which for these statements cost ~15 ms a call (see the module filter on DuckDB's
    note about the Arrow copy: the results here are a few hundred rows).
    """
    if isinstance(db, Database):
        with db.cursor() as cur:
            return cur.execute(*_bound(sql, params)).to_arrow_table()
    return db.execute(*_bound(sql, params)).to_arrow_table()


def _query(db: Database | duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    out = pl.from_arrow(_arrow(db, sql, params))
    assert isinstance(out, pl.DataFrame)
    return out


def _list(db: Database, actor: Actor, kind: str, params: dict[str, Any]) -> pl.DataFrame:
    """Every row of one list, in its order."""
    spec = _LISTS[kind]
    p = dict(params)
    return _query(db, f"""
        SELECT {', '.join(spec.columns)}
        FROM {spec.table} {spec.alias} {spec.joins} {spec.names}
        WHERE {_where(actor, spec, kind, p)}
        ORDER BY {', '.join(spec.order)}""", p)


def overdue_followups(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "overdue_followups", _params(db, today))


def payments_due(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "payments_due", _params(db, today))


def past_close(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "past_close", _params(db, today))


def stale_in_stage(db: Database, actor: Actor, today: date) -> pl.DataFrame:
    return _list(db, actor, "stale_in_stage", _params(db, today))


# The deal lists' top-n orders by (day, id) as one BIGINT, day * 2^40 + id: the top-n then compares one
# integer per deal instead of a (date, id) pair (measured ~10 ms less for an admin's 170k stale deals).
# It is exact while 0 <= id < 2^40 and |day| < 2^22 (days from 1970: years -9500 to 13400). A statement
# reading the table's own bounds first (~2 ms: min and max of each column) decides; a table outside them
# is ranked by the pair. (Checking the bounds over each list's rows cost ~8 ms for the stale deals.)
_ID_SPAN = 1 << 40
_DAY_SPAN = 1 << 22


def _day(expr: str) -> str:
    """The DATE `expr` as days since 1970-01-01."""
    return f"date_diff('day', DATE '1970-01-01', {expr})"


def _rank_bounds(kinds: list[str]) -> str:
    """A statement: whether every row of the lists' table lies within the BIGINT rank's bounds (TRUE for
    an empty table; min and max skip NULLs, which the lists' day expressions replace by another column)."""
    spec = _LISTS[kinds[0]]
    checks = ["min(id) >= 0", f"max(id) < {_ID_SPAN}"]
    for column in dict.fromkeys(c for k in kinds for c in _LISTS[k].day_columns):
        checks += [f"min({column}) > DATE '1970-01-01' - {_DAY_SPAN}", f"max({column}) < DATE '1970-01-01' + {_DAY_SPAN}"]
    return f"SELECT {' AND '.join(f'coalesce({c}, TRUE)' for c in checks)} AS ranked FROM {spec.table}"


def _first_part(actor: Actor, kind: str, p: dict[str, Any], *, ranked: bool = True) -> str:
    """One list's branch of a statement: its full count, and its first rows whole or (a deal list) as
    (day, id): BIGINT ranks when `ranked` (the table within `_rank_bounds`), else (day, id) structs."""
    spec = _LISTS[kind]
    where = _where(actor, spec, kind, p)
    source = f"FROM {spec.table} {spec.alias} {spec.joins} WHERE {where}"
    if spec.by_id:
        # the first rows in the list's order, kept as the scan goes: no sort, no names read; each holds its
        # row's id and its day (the shown date), so neither is read again
        day = _day(spec.order[0])
        first = f"{day} * {_ID_SPAN} + {spec.alias}.id" if ranked else f"struct_pack(d := {day}, i := {spec.alias}.id)"
        return f"SELECT count(*) AS {kind}_n, min({first}, $limit) AS {kind}_firsts {source}"
    keys = ", ".join(f"{k} AS _k{i}" for i, k in enumerate(spec.order))
    by = ", ".join(f"_k{i}" for i in range(len(spec.order)))
    columns = ", ".join(spec.columns)
    # the order keys ride along as _k0.. (list() keeps no order of its own) and are dropped afterwards
    if spec.short:
        # a window of days holds few rows (183 payments for an admin at 1M deals): one pass, names and all
        return (f"SELECT count(*) AS {kind}_n, list(q ORDER BY {by}) FILTER (WHERE _krank <= $limit) AS {kind}_rows "
                f"FROM (SELECT {columns}, {keys}, row_number() OVER (ORDER BY {', '.join(spec.order)}) AS _krank "
                f"FROM {spec.table} {spec.alias} {spec.joins} {spec.names} WHERE {where}) q")
    if spec.named_order:
        # the rows' ids and first order key first (their condition reads dates only), then the names of
        # just the rows up to the limit-th row's key (~600 of an admin's 15k accounts at 1M deals) for
        # the top-n: the scan with the condition no longer decodes the names of every owned account
        t = spec.alias
        return (f"WITH c AS MATERIALIZED (SELECT {t}.id, {spec.order[0]} AS _d {source}) "
                f"SELECT * FROM (SELECT count(*) AS {kind}_n FROM c), "
                f"(SELECT list(q ORDER BY {by}) AS {kind}_rows FROM (SELECT {columns}, {keys} "
                f"FROM c JOIN (SELECT list_max(min(_d, $limit)) AS _cut FROM c) ON c._d <= _cut "
                f"JOIN {spec.table} {t} ON {t}.id = c.id {spec.joins} {spec.names} "
                f"ORDER BY {', '.join(spec.order)} LIMIT $limit) q)")
    # the first rows by a top-n on the table's own columns, then the names of just those rows
    return (f"SELECT * FROM (SELECT count(*) AS {kind}_n {source}), "
            f"(SELECT list(q ORDER BY {by}) AS {kind}_rows FROM ("
            f"SELECT {columns}, {keys} "
            f"FROM (SELECT {spec.alias}.* {source} ORDER BY {', '.join(spec.order)} LIMIT $limit) {spec.alias} "
            f"{spec.joins} {spec.names}) q)")


def _in_transaction(db: Database) -> bool:
    """Whether this thread is inside `db.atomic()` (its cursor is then the writer's transaction's)."""
    return getattr(getattr(db, "_local", None), "tx", None) is not None


@contextmanager
def _snapshot(db: Database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor whose statements all read one committed state (a read-only transaction): the deals
    counted and ranked by the first statement are the ones the second reads by id. Inside `db.atomic()`
    on this thread, the writer's transaction (which sees its own changes) instead."""
    with db.cursor() as cur:
        if _in_transaction(db):
            yield cur
            return
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        finally:
            try:
                cur.execute("ROLLBACK")  # it only read
            except duckdb.Error:  # a broken connection: the error that broke it is the one to report
                pass


def _firsts(found: list[Any] | None, ranked: bool) -> list[tuple[int, int]]:
    """A deal list's first rows as (day, id), in the list's order, from `_first_part`'s `min(..., n)`."""
    if ranked:
        # rank = day * 2^40 + id with 0 <= id < 2^40: divmod gives both back (for a negative day too)
        return [divmod(int(r), _ID_SPAN) for r in found or []]
    return [(int(x["d"]), int(x["i"])) for x in found or []]


def _unpack(table: pa.Table, column: str) -> pl.DataFrame:
    """The rows a one-row result holds as one list of row structs (an empty list comes back NULL),
    without the order keys `_k..`; in Arrow (each polars step on these small frames cost ~0.3 ms)."""
    rows = pa.Table.from_struct_array(table.column(column).combine_chunks().flatten())
    out = pl.from_arrow(rows.select([c for c in rows.column_names if not c.startswith("_k")]))
    assert isinstance(out, pl.DataFrame)
    return out


# The deal lists' shown columns that are their order's day (days since 1970, from the rank): the list's
# date itself, or the days from it to today. The other columns are read by id.
_FROM_DAY: dict[str, dict[str, str]] = {
    "past_close": {"expected_close": "date", "days_late": "days_to_today"},
    "stale_in_stage": {"idle_days": "days_to_today"},
}


def _by_id(table: str, kinds: list[str], ids: list[int], p: dict[str, Any]) -> str:
    """The statement reading the first rows of the lists picked by id from one table (both deal lists
    read their deals together): the columns not computed from the day, names joined.

    The rows are read by id behind a LIMIT so that DuckDB cannot push the joins' filters into this scan
    (with them it reads the names of every matching deal, ~120k, before dropping all but these; measured
    5-10x slower at 1M deals); the ids are bound once, as the list the primary key index reads. No list
    condition is checked again: `_snapshot` reads the state the ids were picked from.
    """
    spec = _LISTS[kinds[0]]
    p[f"{table}_ids"] = sorted(set(ids))
    columns = list(dict.fromkeys(c for k in kinds for c in _LISTS[k].columns
                                 if c.rsplit(" AS ", 1)[-1].rsplit(".", 1)[-1] not in _FROM_DAY[k]))
    return (f"SELECT {', '.join(columns)} FROM (SELECT * FROM {table} WHERE list_contains(${table}_ids::BIGINT[], id) "
            f"LIMIT len(${table}_ids::BIGINT[])) {spec.alias} {spec.joins} {spec.names}")


def _deal_lists(db: Database, actor: Actor, kinds: list[str], today: date,
                p: dict[str, Any]) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """The deal lists' counts and first rows: counts and ranks (the two heavy scans side by side), then
    those deals by id, in one read-only transaction."""
    with _snapshot(db) as cur:
        ranked = bool(cur.execute(_rank_bounds(kinds)).fetchone()[0])  # type: ignore[index]
        # the two scans as one statement, a UNION ALL BY NAME (each branch's columns NULL in the other's
        # row), so that DuckDB can run them side by side; their few values come back as Python values
        found = cur.execute(*_bound(" UNION ALL BY NAME ".join(
            f"({_first_part(actor, k, p, ranked=ranked)})" for k in kinds), p))
        names = [d[0] for d in found.description]
        branches = found.fetchall()
        first = {name: next((b[i] for b in branches if b[i] is not None), None) for i, name in enumerate(names)}
        counts = {k: int(first[f"{k}_n"]) for k in kinds}
        firsts = {k: _firsts(first[f"{k}_firsts"], ranked) for k in kinds}
        deals = _query(cur, _by_id(_LISTS[kinds[0]].table, kinds, [i for k in kinds for _, i in firsts[k]], p), p)
    today_day = (today - date(1970, 1, 1)).days
    at = {deal: n for n, deal in enumerate(deals["id"].to_list())}
    rows = {}
    for k in kinds:
        # each list's rows in its order (eager row picks: no polars plan for ~500 rows); a deal the joins
        # of the names drop (no stage row) is left out, as the whole list leaves it out
        shown = [(day, deal) for day, deal in firsts[k] if deal in at]
        days = pl.Series("_day", [day for day, _ in shown], dtype=pl.Int64)
        from_day = [(days.cast(pl.Int32).cast(pl.Date) if how == "date" else today_day - days).alias(name)
                    for name, how in _FROM_DAY[k].items()]
        rows[k] = deals[[at[deal] for _, deal in shown]].hstack(from_day)[_LISTS[k].column_names]
    return counts, rows


def _other_lists(db: Database, actor: Actor, kinds: list[str],
                 p: dict[str, Any]) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """The task, pool and payment lists' counts and first rows, a statement each (as one UNION ALL BY
    NAME statement the three cost ~10 ms more: 37-48 ms against 30-35 ms, admin at 1M deals)."""
    counts, rows = {}, {}
    for k in kinds:
        q = dict(p)
        row = _arrow(db, _first_part(actor, k, q), q)
        counts[k], rows[k] = int(row.column(f"{k}_n")[0].as_py()), _unpack(row, f"{k}_rows")
    return counts, rows


def _beside(db: Database, fn: Callable[[], Any]) -> Callable[[], Any]:
    """Start `fn` on a thread of its own and return what waits for its result (or raises its error).

    DuckDB runs the branches of one statement one after another when each is a single-threaded scan,
    so the small lists' statement runs beside the deal lists' on the machine's other core. Inside
    `db.atomic()` `fn` runs at once on this thread instead (a thread of its own would not see the
    transaction's changes).
    """
    if _in_transaction(db):
        value = fn()
        return lambda: value
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the waiting caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="reminders", daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def all_reminders(db: Database, actor: Actor, *, today: date | None = None,
                  limit: int | None = SHOWN_ROWS) -> Reminders:
    """Every reminder list for the actor: its first `limit` rows, most urgent first, and its full count.

    `limit=None` returns every row of every list (the counts are then the row counts).
    """
    if limit is not None and int(limit) < 1:
        raise ValidationError(f"The number of rows per reminder list must be at least 1; got {limit}.",
                              field="limit", value=limit)
    today = today or date.today()
    if isinstance(today, datetime):  # a moment: its day
        today = today.date()
    params = _params(db, today)
    if limit is None:
        rows = {kind: _list(db, actor, kind, params) for kind in KINDS}
        return Reminders(rows=rows, counts={k: df.height for k, df in rows.items()}, limit=None)
    p = dict(params, limit=int(limit))
    by_id = [k for k in KINDS if _LISTS[k].by_id]
    others = _beside(db, lambda: _other_lists(db, actor, [k for k in KINDS if k not in by_id], p))
    try:
        counts, rows = _deal_lists(db, actor, by_id, today, dict(p))
    except BaseException:
        try:  # the other thread's queries end before this call does; its own error, if any, is secondary
            others()
        except BaseException:  # noqa: BLE001 - the deal lists' error is the one raised
            pass
        raise
    more_counts, more_rows = others()
    counts.update(more_counts)
    rows.update(more_rows)
    return Reminders(rows={k: rows[k] for k in KINDS}, counts={k: counts[k] for k in KINDS}, limit=int(limit))
