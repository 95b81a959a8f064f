"""Accounts: registering customers first-in, editing them, merging duplicates.

First-in ownership: whoever registers a company first owns it. A new account
(or a renamed one) whose normalised name, tax id or phone equals that of an
existing, not merged-away account is refused with a `DuplicateError` naming
the owner and since when. Keys come from `crm_core.names`; tax id and phone
keys are stored in `tax_key` / `phone_key` by this module, and rows written
elsewhere (imports, demo) are matched through the same normalisation in SQL.

Managers merge duplicates: contacts, opportunities, activities, orders,
contracts, links, child accounts and targets move to the survivor, the
duplicate keeps its row with `merged_into_id` set, and the audit log records
what moved.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from crm_core import audit, hooks, records
from crm_core.access import Actor, can_see_owner, owner_scope, require, require_pipeline_edit, require_role
from crm_core.db import Database, quote_ident
from crm_core.errors import DuplicateError, NotFound, ValidationError
from crm_core.names import normalize_company_name, normalize_phone, normalize_tax_id

# Phone keys shorter than this are too ambiguous to decide ownership on.
MIN_PHONE_DIGITS = 6

EDITABLE = ("name", "tax_id", "phone", "website", "industry", "region", "city", "employees", "annual_revenue",
            "parent_id", "source", "notes")

# The SQL twin of names.normalize_phone / normalize_tax_id, for rows whose keys
# were not written by this module.
_PHONE_SQL = "regexp_replace(regexp_replace(a.phone, '[^0-9]', '', 'g'), '^00', '')"
_TAX_SQL = "upper(regexp_replace(a.tax_id, '[^0-9A-Za-z]', '', 'g'))"


def now_ts(now: datetime | None = None) -> datetime:
    """The timestamp of a write (tests pass a fixed one); seconds precision."""
    return (now or datetime.now()).replace(microsecond=0)


def insert_row(cur: Any, table: str, row: dict[str, Any]) -> int:
    """INSERT one row (column names are crm_core's own) and return its new id."""
    cols = list(row)
    return cur.execute(
        f"INSERT INTO {quote_ident(table)} ({', '.join(map(quote_ident, cols))}) "
        f"VALUES ({', '.join('?' for _ in cols)}) RETURNING id",
        list(row.values()),
    ).fetchone()[0]


def fetch(cur: Any, table: str, row_id: int, columns: str) -> dict[str, Any] | None:
    """A few columns of one row by id (`columns` is crm_core's own text).

    Reading only what a write needs keeps single-row saves fast on wide tables
    with a million rows: every extra column is another segment to decompress.
    """
    names = ", ".join(quote_ident(c.strip()) for c in columns.split(","))
    res = cur.execute(f"SELECT {names} FROM {quote_ident(table)} WHERE id = ?", [row_id])
    names = [d[0] for d in res.description]
    row = res.fetchone()
    return dict(zip(names, row)) if row else None


# What the writes of other modules need of an account (require_owned, deal entry).
ACCOUNT_COLS = "id, name, owner_id, merged_into_id, region, lifecycle, parent_id, tax_id, phone, claimed_at, created_at"


def phone_key(phone: str | None) -> str:
    key = normalize_phone(phone)
    return key if len(key) >= MIN_PHONE_DIGITS else ""


def find_duplicate(db: Database, name: str, tax_id: str | None = None, phone: str | None = None, *,
                   exclude_id: int | None = None, cur: Any = None) -> dict[str, Any] | None:
    """The existing account that `name`/`tax_id`/`phone` would duplicate (lowest id), or None.

    Equality on the stored keys (no index needed at 100k rows); blank tax ids
    and short phones match nothing.
    """
    n, tk, pk = normalize_company_name(name), normalize_tax_id(tax_id), phone_key(phone)
    # One simple equality per branch, so each scan prunes by column statistics;
    # the regexp branches only touch rows whose keys were never filled.
    live = "a.merged_into_id IS NULL AND a.id <> $self"
    sql = f"""
        WITH hits AS (
            SELECT a.id, 1 AS how FROM accounts a WHERE a.normalized_name = $n AND {live}
            UNION ALL SELECT a.id, 2 FROM accounts a WHERE a.tax_key = $t AND {live}
            UNION ALL SELECT a.id, 2 FROM accounts a
                      WHERE a.tax_key IS NULL AND a.tax_id IS NOT NULL AND {_TAX_SQL} = $t AND {live}
            UNION ALL SELECT a.id, 3 FROM accounts a WHERE a.phone_key = $p AND {live}
            UNION ALL SELECT a.id, 3 FROM accounts a
                      WHERE a.phone_key IS NULL AND a.phone IS NOT NULL AND {_PHONE_SQL} = $p AND {live}
        )
        SELECT id, min(how) AS how FROM hits GROUP BY id ORDER BY id LIMIT 1
    """
    params = {"n": n, "t": tk or None, "p": pk or None, "self": exclude_id or -1}
    found = _rows(db, cur, sql, params)
    if not found:
        return None
    # The details by primary key: joining the hits to all of accounts would scan it again.
    detail = _rows(db, cur, """
        SELECT a.id, a.name, a.owner_id, u.display_name AS owner_name, a.claimed_at, a.created_at, a.released_at
        FROM accounts a LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = ?
    """, [found[0]["id"]])[0]
    detail["matched_on"] = {1: "name", 2: "tax id"}.get(found[0]["how"], "phone")
    return detail


def _rows(db: Database, cur: Any, sql: str, params: Any) -> list[dict[str, Any]]:
    """Rows as dicts, on the transaction's cursor when there is one."""
    if cur is None:
        return db.dicts(sql, params)
    res = cur.execute(sql, params)
    names = [d[0] for d in res.description]
    return [dict(zip(names, r)) for r in res.fetchall()]


def duplicate_message(name: str, found: dict[str, Any]) -> str:
    """Who owns the existing account and since when, in words."""
    head = (f"An account matching {name!r} is already registered: {found['name']!r} (id {found['id']}, "
            f"same {found['matched_on']}).")
    if found["owner_id"] is None:
        since = found["released_at"] or found["created_at"]
        return f"{head} It is in the public pool since {since:%Y-%m-%d}; claim it there instead."
    since = found["claimed_at"] or found["created_at"]
    return f"{head} It is owned by {found['owner_name']} since {since:%Y-%m-%d}."


def check_not_duplicate(db: Database, name: str, tax_id: str | None, phone: str | None, *,
                        exclude_id: int | None = None, cur: Any = None) -> None:
    found = find_duplicate(db, name, tax_id, phone, exclude_id=exclude_id, cur=cur)
    if found is not None:
        raise DuplicateError(duplicate_message(name, found), existing=found)


def _clean_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise editable fields; raises ValidationError naming the field."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in EDITABLE:
            raise ValidationError(f"Accounts have no editable field {key!r}.", field=key)
        if key == "employees":
            if value in (None, ""):
                out[key] = None
                continue
            try:
                out[key] = int(value)
            except (TypeError, ValueError):
                raise ValidationError(f"Employees must be a whole number, not {value!r}.", field=key,
                                      value=value) from None
            if out[key] < 0:
                raise ValidationError(f"Employees cannot be negative ({value}).", field=key, value=value)
        elif key == "annual_revenue":
            if value in (None, ""):
                out[key] = None
                continue
            try:
                out[key] = Decimal(str(value)).quantize(Decimal("0.01"))
            except InvalidOperation:
                raise ValidationError(f"Annual revenue must be a number, not {value!r}.", field=key,
                                      value=value) from None
        elif key == "parent_id":
            out[key] = None if value in (None, "") else int(value)
        else:
            out[key] = _clean_text(value)
    if "name" in out:
        if not out["name"]:
            raise ValidationError("An account needs a name.", field="name", value=fields.get("name"))
        if not normalize_company_name(out["name"]):
            raise ValidationError(f"The name {fields['name']!r} is only a legal suffix or punctuation; "
                                  "enter the company's own name.", field="name", value=fields["name"])
    return out


def _check_parent(cur: Any, actor: Actor, parent_id: int | None, self_id: int | None = None) -> None:
    if parent_id is None:
        return
    row = cur.execute("SELECT id, owner_id, merged_into_id, parent_id FROM accounts WHERE id = ?",
                      [parent_id]).fetchone()
    if row is None or row[2] is not None:
        raise ValidationError(f"Parent account {parent_id} does not exist.", field="parent_id", value=parent_id)
    if self_id is not None and reaches(cur, "accounts", "parent_id", parent_id, self_id):
        raise ValidationError(f"Account {parent_id} is below account {self_id}; it cannot be its parent.",
                              field="parent_id", value=parent_id)


def reaches(cur: Any, table: str, up_column: str, start: int, target: int) -> bool:
    """Whether walking `up_column` (parent, reports-to) from row `start` reaches row `target`.

    Linking `target` below `start` would then make a loop. Names are crm_core's own.
    """
    seen, current = set(), start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        up = cur.execute(f"SELECT {quote_ident(up_column)} FROM {quote_ident(table)} WHERE id = ?",
                         [current]).fetchone()
        current = up[0] if up else None
    return False


def create(db: Database, actor: Actor, *, name: str, owner_id: Any = "me", now: datetime | None = None,
           cur: Any = None, **fields: Any) -> int:
    """Register a new account, owned by the actor unless `owner_id` says otherwise (None = the pool).

    Refused with DuplicateError when the company is already registered.
    Returns the new id.
    """
    if cur is None:
        with db.atomic() as tx:
            new_id = create(db, actor, name=name, owner_id=owner_id, now=now, cur=tx, **fields)
            hooks.notify(db, "accounts", [new_id])  # one commit with the save (see hooks)
        return new_id
    require(actor, actor.can_edit_pipeline, "register accounts")
    clean = _clean_fields({"name": name, **fields})
    owner = actor.id if owner_id == "me" else owner_id
    if owner is None:
        require(actor, actor.is_manager_or_admin, "put a new account into the public pool")
    else:
        require_pipeline_edit(actor, owner, "register an account for another owner")
    _check_parent(cur, actor, clean.get("parent_id"))
    check_not_duplicate(db, clean["name"], clean.get("tax_id"), clean.get("phone"), cur=cur)
    ts = now_ts(now)
    row = {**clean, "normalized_name": normalize_company_name(clean["name"]),
           "tax_key": normalize_tax_id(clean.get("tax_id")) or None, "phone_key": phone_key(clean.get("phone")) or None,
           "owner_id": owner, "claimed_at": ts if owner is not None else None,
           "last_followup_at": ts if owner is not None else None, "lifecycle": "lead",
           "created_at": ts, "created_by": actor.id}
    new_id = insert_row(cur, "accounts", row)
    audit.record(cur, actor, "create", "account", new_id, after=row)
    return new_id


def get(db: Database, actor: Actor, account_id: int) -> dict[str, Any]:
    """One account the actor may see (own, team's, or the pool)."""
    row = db.one("SELECT * FROM accounts WHERE id = ? AND merged_into_id IS NULL", [account_id])
    if row is None or not can_see_owner(actor, row["owner_id"], pool_visible=True):
        raise NotFound(f"Account {account_id} does not exist or is not visible to you.")
    return row


def require_owned(cur: Any, actor: Actor, account_id: int, what: str) -> dict[str, Any]:
    """The account row, if the actor may work on it (it is theirs or their team's, not in the pool)."""
    return check_owned(actor, fetch(cur, "accounts", account_id, ACCOUNT_COLS), account_id, what)


def check_owned(actor: Actor, row: dict[str, Any] | None, account_id: int, what: str) -> dict[str, Any]:
    """`row` (the account as read, or None), if the actor may work on it; see `require_owned`."""
    if row is None or row["merged_into_id"] is not None:
        raise NotFound(f"Account {account_id} does not exist.")
    if row["owner_id"] is None and actor.role != "admin":
        raise ValidationError(f"Account {row['name']!r} is in the public pool; claim it before you {what}.",
                              field="account_id", value=account_id)
    require_pipeline_edit(actor, row["owner_id"], what)
    return row


def update(db: Database, actor: Actor, account_id: int, expected_version: int, changes: dict[str, Any], *,
           now: datetime | None = None) -> dict[str, Any]:
    """Edit an account (versioned: a stale copy is refused with the current values).

    Returns the account's key columns (`ACCOUNT_COLS`) and the edited ones, after the change.
    """
    clean = _clean_fields(changes)
    keys = {"name", "tax_id", "phone"} & set(clean)
    # One read of what the checks and records.update_versioned (current=) need: at 100k
    # accounts each column more is another segment to decompress.
    cols = {c.strip() for c in ACCOUNT_COLS.split(",")} | set(clean) | {"updated_at", "version"}
    if keys:
        cols |= {"normalized_name", "tax_key", "phone_key"}
    with db.atomic() as cur:
        row = check_owned(actor, fetch(cur, "accounts", account_id, ", ".join(sorted(cols))), account_id,
                          "edit this account")
        if "parent_id" in clean:
            _check_parent(cur, actor, clean["parent_id"], account_id)
        if keys:
            merged = {**row, **clean}
            check_not_duplicate(db, merged["name"], merged.get("tax_id"), merged.get("phone"),
                                exclude_id=account_id, cur=cur)
            clean["normalized_name"] = normalize_company_name(merged["name"])
            clean["tax_key"] = normalize_tax_id(merged.get("tax_id")) or None
            clean["phone_key"] = phone_key(merged.get("phone")) or None
        clean["updated_at"] = now_ts(now)
        after = records.update_versioned(db, actor, "accounts", account_id, expected_version, clean,
                                         entity="account", cur=cur, current=row)
        hooks.notify(db, "accounts", [account_id])  # one commit with the save (see hooks)
    return after


def list_accounts(db: Database, actor: Actor, *, search: str | None = None, mine_only: bool = False,
                  limit: int = 500) -> pl.DataFrame:
    """Accounts the actor may see (not the pool), newest follow-up first."""
    scope, sp = owner_scope(actor, "a.owner_id")
    mine = "a.owner_id = ?" if mine_only and actor.id is not None else "TRUE"
    mp = [actor.id] if mine == "a.owner_id = ?" else []
    return db.query(
        f"""
        SELECT a.id, a.name, p.name AS parent, a.industry, a.region, a.lifecycle, u.display_name AS owner,
               a.last_followup_at, a.phone, a.tax_id, a.version
        FROM accounts a
        LEFT JOIN accounts p ON p.id = a.parent_id
        LEFT JOIN users u ON u.id = a.owner_id
        WHERE a.merged_into_id IS NULL AND a.owner_id IS NOT NULL AND {scope} AND {mine}
          AND (? IS NULL OR a.name ILIKE '%' || ? || '%')
        ORDER BY a.last_followup_at DESC NULLS LAST, a.id
        LIMIT ?
        """,
        [*sp, *mp, search, search, limit],
    )


def choices(db: Database, actor: Actor, *, limit: int = 5000) -> pl.DataFrame:
    """(id, name) of accounts the actor can put deals, contacts and follow-ups on."""
    scope, sp = owner_scope(actor, "owner_id")
    return db.query(
        f"SELECT id, name FROM accounts WHERE merged_into_id IS NULL AND owner_id IS NOT NULL AND {scope} "
        "ORDER BY name LIMIT ?",
        [*sp, limit],
    )


# Every table that points at an account, and the column: what a merge moves.
MOVED_BY_MERGE = (
    ("contacts", "account_id"), ("opportunities", "account_id"), ("activities", "account_id"),
    ("orders", "account_id"), ("contracts", "account_id"), ("targets", "account_id"),
    ("account_links", "from_account_id"), ("account_links", "to_account_id"), ("accounts", "parent_id"),
)


def merge(db: Database, actor: Actor, survivor_id: int, duplicate_ids: list[int], *,
          now: datetime | None = None) -> dict[str, int]:
    """Merge duplicates into the survivor (managers and admins). Returns rows moved per table.

    The duplicates stay as rows marked `merged_into_id` (so history and
    imports still resolve them) and drop out of every list and duplicate check.
    """
    require_role(actor, ("admin", "manager"), "merge duplicate accounts")
    dup_ids = sorted({int(d) for d in duplicate_ids} - {int(survivor_id)})
    if not dup_ids:
        raise ValidationError("Choose at least one duplicate account other than the survivor.",
                              field="duplicate_ids", value=duplicate_ids)
    ts = now_ts(now)
    moved: dict[str, int] = {}
    with db.atomic() as cur:
        survivor = records.fetch_row(cur, "accounts", survivor_id)
        if survivor is None or survivor["merged_into_id"] is not None:
            raise NotFound(f"Survivor account {survivor_id} does not exist (or was merged away).")
        require_pipeline_edit(actor, survivor["owner_id"], "merge into this account")
        dups = []
        for d in dup_ids:
            row = records.fetch_row(cur, "accounts", d)
            if row is None or row["merged_into_id"] is not None:
                raise NotFound(f"Duplicate account {d} does not exist (or was already merged).")
            require_pipeline_edit(actor, row["owner_id"], f"merge account {d}")
            dups.append(row)
        # A survivor that sits below one of the duplicates moves up to that duplicate's parent.
        if survivor["parent_id"] in dup_ids:
            new_parent = next(r["parent_id"] for r in dups if r["id"] == survivor["parent_id"])
            while new_parent in dup_ids:
                new_parent = next(r["parent_id"] for r in dups if r["id"] == new_parent)
            cur.execute("UPDATE accounts SET parent_id = ? WHERE id = ?", [new_parent, survivor_id])
        for table, column in MOVED_BY_MERGE:
            n = cur.execute(
                f"UPDATE {table} SET {column} = ? WHERE {column} IN (SELECT unnest(?::BIGINT[]))"
                + (" AND id <> ?" if table == "accounts" else ""),
                [survivor_id, dup_ids] + ([survivor_id] if table == "accounts" else []),
            ).fetchone()[0]
            moved[f"{table}.{column}"] = moved.get(f"{table}.{column}", 0) + int(n)
        # Links that now point from the survivor to itself mean nothing.
        cur.execute("DELETE FROM account_links WHERE from_account_id = ? AND to_account_id = ?",
                    [survivor_id, survivor_id])
        cur.execute(
            "UPDATE accounts SET merged_into_id = ?, owner_id = NULL, updated_at = ?, version = version + 1 "
            "WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [survivor_id, ts, dup_ids],
        )
        # The survivor keeps the most recent follow-up of the group.
        cur.execute(
            "UPDATE accounts SET last_followup_at = (SELECT max(last_followup_at) FROM accounts "
            "WHERE id = ? OR id IN (SELECT unnest(?::BIGINT[]))), updated_at = ?, version = version + 1 WHERE id = ?",
            [survivor_id, dup_ids, ts, survivor_id],
        )
        audit.record(cur, actor, "merge", "account", survivor_id,
                     before={"duplicates": [{"id": r["id"], "name": r["name"], "owner_id": r["owner_id"]}
                                            for r in dups]},
                     after={"survivor": survivor_id, "moved": moved})
        touched = [survivor_id, *dup_ids]
        for table in ("accounts", "opportunities", "activities", "orders", "contracts"):
            hooks.notify(db, table, touched)  # the listeners' marks commit with the merge (see hooks)
    return moved


def duplicate_candidates(db: Database, actor: Actor, *, limit: int = 200) -> pl.DataFrame:
    """Groups of visible accounts that share a name, tax id or phone key (for managers to merge)."""
    scope, sp = owner_scope(actor, "a.owner_id", include_pool=True)
    return db.query(
        f"""
        WITH k AS (
            SELECT a.id, a.name, a.owner_id, a.normalized_name AS name_key,
                   nullif(coalesce(a.tax_key, {_TAX_SQL}), '') AS tax_key,
                   CASE WHEN length(coalesce(a.phone_key, {_PHONE_SQL})) >= {MIN_PHONE_DIGITS}
                        THEN coalesce(a.phone_key, {_PHONE_SQL}) END AS phone_key
            FROM accounts a WHERE a.merged_into_id IS NULL AND {scope}
        ), pairs AS (
            SELECT least(x.id, y.id) AS first_id, greatest(x.id, y.id) AS second_id, 'name' AS matched_on
            FROM k x JOIN k y ON x.name_key = y.name_key AND x.id < y.id
            UNION ALL
            SELECT least(x.id, y.id), greatest(x.id, y.id), 'tax id'
            FROM k x JOIN k y ON x.tax_key = y.tax_key AND x.id < y.id AND x.name_key <> y.name_key
            UNION ALL
            SELECT least(x.id, y.id), greatest(x.id, y.id), 'phone'
            FROM k x JOIN k y ON x.phone_key = y.phone_key AND x.id < y.id AND x.name_key <> y.name_key
             AND NOT coalesce(x.tax_key = y.tax_key, FALSE)
        )
        SELECT p.first_id, a.name AS first_name, p.second_id, b.name AS second_name, p.matched_on
        FROM pairs p JOIN accounts a ON a.id = p.first_id JOIN accounts b ON b.id = p.second_id
        ORDER BY p.first_id, p.second_id LIMIT ?
        """,
        [*sp, limit],
    )


def field_values(db: Database, actor: Actor) -> dict[str, list[str]]:
    """Values already in use for industry, region and source: the form's choices."""
    out = {}
    for col in ("industry", "region", "source"):
        out[col] = [r[0] for r in db.rows(
            f"SELECT DISTINCT {col} FROM accounts WHERE {col} IS NOT NULL ORDER BY 1")]
    return out


def fill_match_keys(db: Database) -> int:
    """Fill missing tax/phone comparison keys of rows written elsewhere (imports); daily at app start.

    Keeps the first-in check an equality match instead of a normalisation of
    every row. Returns how many rows were filled.
    """
    with db.atomic() as cur:
        return int(cur.execute(
            f"""
            UPDATE accounts a SET
                tax_key = coalesce(a.tax_key, nullif({_TAX_SQL}, '')),
                phone_key = coalesce(a.phone_key,
                                     CASE WHEN length({_PHONE_SQL}) >= {MIN_PHONE_DIGITS} THEN {_PHONE_SQL} END)
            WHERE (a.tax_key IS NULL AND a.tax_id IS NOT NULL) OR (a.phone_key IS NULL AND a.phone IS NOT NULL)
            """
        ).fetchone()[0])
