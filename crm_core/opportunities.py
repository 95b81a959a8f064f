"""Opportunities: reading the pipeline, entering deals and moving them along.

Every write is a handful of primary-key lookups and inserts, so a save stays
fast with a million deals in the table:
- a stage change writes a `stage_history` row (from, to, when, who) and sets
  `stage_entered_at`; moving into a won stage closes the deal as won (and makes
  the account a customer), into a lost stage closes it as lost and needs a reason;
- an expected-close change writes a `close_date_history` row (the slippage source);
- every edit is versioned: a stale copy is refused with the current values.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from crm_core import accounts, audit, hooks, playbook, records
from crm_core.access import Actor, owner_scope, require, require_pipeline_edit
from crm_core.db import Database, quote_ident
from crm_core.errors import CrmError, NotFound, StaleEditError, ValidationError
from crm_core.filters import PipelineFilter

# What an edit reads of the stored deal (see accounts.fetch): the columns every edit needs, and
# those of the fields it changes (`_edit_columns`), so that records.update_versioned need not
# read the row again. Only those: each column more is another segment to decompress (reading
# all 15 cost ~0.3 ms more of a save at 1M deals than a stage move's 10).
_OPP_BASE_COLS = ("id", "owner_id", "account_id", "stage_id", "updated_at", "version")
_OPP_EDIT_COLS = {"name": ("name",), "amount": ("amount",), "probability": ("probability",),
                  "expected_close": ("expected_close",), "product_id": ("product_id",),
                  "lost_reason": ("status", "lost_reason"),
                  "stage_id": ("status", "lost_reason", "stage_entered_at", "closed_at")}
# The deal entry's account: what `accounts.check_owned` and the new deal's row need.
_DEAL_ACCOUNT_COLS = "id, name, owner_id, merged_into_id, region, lifecycle"
DECISION_ROLES = ("decision_maker", "influencer", "evaluator", "champion", "blocker", "user")
GRID_COLUMNS = ("name", "stage", "amount", "probability", "expected_close", "lost_reason")


def list_open(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, limit: int = 2000) -> pl.DataFrame:
    """Open opportunities the actor may see, soonest expected close first."""
    flt = flt or PipelineFilter()
    scope, sp = owner_scope(actor, "o.owner_id")
    where, wp = flt.where("o", date_column=None)
    return db.query(
        f"""
        SELECT o.id, o.name, a.name AS account, u.display_name AS owner, s.name AS stage,
               o.amount, coalesce(o.probability, s.probability) AS probability, o.expected_close,
               p.name AS product, o.version
        FROM opportunities o
        JOIN stages s ON s.id = o.stage_id
        LEFT JOIN accounts a ON a.id = o.account_id
        LEFT JOIN users u ON u.id = o.owner_id
        LEFT JOIN products p ON p.id = o.product_id
        WHERE o.status = 'open' AND {scope} AND {where}
        ORDER BY o.expected_close NULLS LAST, o.id
        LIMIT ?
        """,
        [*sp, *wp, limit],
    )


def _grid_scope(actor: Actor, flt: PipelineFilter) -> tuple[str, list[Any]]:
    """The grid's deals: the actor's own open deals (a manager's: the team's), filtered."""
    scope, sp = owner_scope(actor, "o.owner_id")
    mine = "o.owner_id = ?" if actor.role == "rep" else "TRUE"
    where, wp = flt.where("o", date_column=None)
    return (f"o.status = 'open' AND {scope} AND {mine} AND {where}",
            [*sp, *([actor.id] if mine != "TRUE" else []), *wp])


def grid_rows(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, limit: int = 500) -> pl.DataFrame:
    """The editable grid: the first `limit` of the actor's open deals by expected close, with their versions."""
    cond, params = _grid_scope(actor, flt or PipelineFilter())
    return db.query(
        f"""
        SELECT o.id, o.name, a.name AS account, s.name AS stage, o.amount, o.probability, o.expected_close,
               o.lost_reason, u.display_name AS owner, o.version
        FROM opportunities o
        JOIN stages s ON s.id = o.stage_id
        LEFT JOIN accounts a ON a.id = o.account_id
        LEFT JOIN users u ON u.id = o.owner_id
        WHERE {cond}
        ORDER BY o.expected_close NULLS LAST, o.id
        LIMIT ?
        """,
        [*params, limit],
    )


def grid_totals(db: Database, actor: Actor, flt: PipelineFilter | None = None) -> dict[str, Any]:
    """Count and amount of every deal the grid covers (the grid itself shows only the first rows)."""
    cond, params = _grid_scope(actor, flt or PipelineFilter())
    row = db.one(f"SELECT count(*) AS count, coalesce(sum(o.amount), 0) AS amount FROM opportunities o WHERE {cond}",
                 params)
    return {"count": int(row["count"]), "amount": row["amount"]} if row else {"count": 0, "amount": 0}


# -- validation -------------------------------------------------------------
def _amount(value: Any, row: str = "") -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{row}Amount must be a number, not {value!r}.", field="amount", value=value) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError(f"{row}Amount cannot be negative ({value}).", field="amount", value=value)
    if amount >= Decimal("1e16"):
        raise ValidationError(f"{row}Amount {value} is too large.", field="amount", value=value)
    return amount


def _probability(value: Any, row: str = "") -> float | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{row}Probability must be a number from 0 to 1, not {value!r}.",
                              field="probability", value=value) from None
    if not 0 <= p <= 1:
        raise ValidationError(f"{row}Probability must be from 0 to 1 (e.g. 0.4 for 40%), not {value}.",
                              field="probability", value=value)
    return p


def _close_date(value: Any, row: str = "") -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValidationError(f"{row}Expected close must be a date (YYYY-MM-DD), not {value!r}.",
                              field="expected_close", value=value) from None


_STAGE_COLS = ("id", "name", "is_won", "is_lost", "active")


def _edit_columns(changes: dict[str, Any]) -> str:
    """The deal's columns an edit of `changes` reads (crm_core's own names)."""
    cols = dict.fromkeys(_OPP_BASE_COLS)
    for field in changes:
        cols.update(dict.fromkeys(_OPP_EDIT_COLS.get(field, ())))
    return ", ".join(cols)


def _stage_key(stage_id: Any) -> int | None:
    """The stage id as a number, None when it is blank or not a number (`_valid_stage` refuses it)."""
    try:
        return None if stage_id in (None, "") else int(stage_id)
    except (TypeError, ValueError):
        return None


def _valid_stage(found: dict[str, Any] | None, stage_id: Any, row: str = "") -> dict[str, Any]:
    """The stage row read for `stage_id`, if it is an active stage."""
    if found is None or not found["active"]:
        raise ValidationError(f"{row}Stage {stage_id!r} is not one of the configured stages.", field="stage_id",
                              value=stage_id)
    return found


def _with_stage(cur: Any, table: str, row_id: int, columns: str, stage_id: int | None,
                user_id: int | None = None, product_id: int | None = None,
                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Any, bool]:
    """(row's `columns` by id, the stage `stage_id` or None, user `user_id`'s department,
    whether product `product_id` exists) in one statement.

    A save runs a handful of point statements on million-row tables, and each
    costs about 1 ms whatever it reads: four lookups as one keep it in budget.
    `columns` is crm_core's own text.
    """
    names = [c.strip() for c in columns.split(",")]
    select = ["r." + quote_ident(c) for c in names]
    joins, params = [], []
    if stage_id is not None:
        select += ["s." + c for c in _STAGE_COLS]
        joins.append("LEFT JOIN stages s ON s.id = ?")
        params.append(stage_id)
    if user_id is not None:
        select.append("u.department_id")
        joins.append("LEFT JOIN users u ON u.id = ?")
        params.append(user_id)
    if product_id is not None:
        select.append("p.id")
        joins.append("LEFT JOIN products p ON p.id = ?")
        params.append(product_id)
    found = cur.execute(f"SELECT {', '.join(select)} FROM {quote_ident(table)} r {' '.join(joins)} WHERE r.id = ?",
                        [*params, row_id]).fetchone()
    if found is None:
        return None, None, None, False
    row = dict(zip(names, found))
    rest = found[len(names):]
    stage = None
    if stage_id is not None:
        stage = dict(zip(_STAGE_COLS, rest))
        stage, rest = (stage if stage["id"] is not None else None), rest[len(_STAGE_COLS):]
    dept, rest = (rest[0], rest[1:]) if user_id is not None else (None, rest)
    return row, stage, dept, product_id is not None and rest[0] is not None


def stage_ids_by_name(db: Database) -> dict[str, int]:
    return {n: i for i, n in db.rows("SELECT id, name FROM stages WHERE active")}


def _stage_change(cur: Any, actor: Actor, opp: dict[str, Any], stage: dict[str, Any], lost_reason: str | None,
                  ts: datetime, row: str = "") -> dict[str, Any]:
    """The column changes of moving `opp` into `stage`, and its history row."""
    changes: dict[str, Any] = {"stage_id": stage["id"], "stage_entered_at": ts}
    if stage["is_lost"]:
        reason = (lost_reason or "").strip()
        if not reason:
            name = opp["name"] if "name" in opp else cur.execute("SELECT name FROM opportunities WHERE id = ?",
                                                                 [opp["id"]]).fetchone()[0]
            raise ValidationError(f"{row}Closing {name!r} as lost needs a reason (price, competitor, ...).",
                                  field="lost_reason", value=lost_reason)
        changes.update(status="lost", closed_at=ts.date(), lost_reason=reason)
    elif stage["is_won"]:
        changes.update(status="won", closed_at=ts.date(), lost_reason=None)
    else:
        changes.update(status="open", closed_at=None, lost_reason=None)
    cur.execute(
        "INSERT INTO stage_history (opportunity_id, from_stage_id, to_stage_id, changed_at, changed_by) "
        "VALUES (?, ?, ?, ?, ?)",
        [opp["id"], opp.get("stage_id"), stage["id"], ts, actor.id],
    )
    if stage["is_won"] and opp.get("account_id") is not None:
        # The lifecycle rule "first won deal makes a customer", applied at once.
        cur.execute("UPDATE accounts SET lifecycle = 'customer' WHERE id = ? AND lifecycle <> 'customer'",
                    [opp["account_id"]])
    return changes


# -- writes -----------------------------------------------------------------
def create(db: Database, actor: Actor, *, name: str, stage_id: int, amount: Any, expected_close: Any,
           account_id: int | None = None, new_account: dict[str, Any] | None = None, product_id: int | None = None,
           probability: Any = None, source: str | None = None, lost_reason: str | None = None,
           contacts: list[tuple[int, str]] | None = None, team: list[tuple[int, str | None]] | None = None,
           owner_id: int | None = None, now: datetime | None = None) -> int:
    """Enter a deal on an account the actor works on (or on a new account registered in the same save).

    `contacts` are (contact id, decision role) of the account's people;
    `team` are (user id, role) of colleagues working the deal. Returns the id.
    """
    require(actor, actor.can_edit_pipeline, "enter opportunities")
    name = (name or "").strip()
    if not name:
        raise ValidationError("An opportunity needs a name.", field="name", value=name)
    amount_d = _amount(amount)
    prob = _probability(probability)
    close = _close_date(expected_close)
    if close is None:
        raise ValidationError("Enter the expected close date.", field="expected_close", value=expected_close)
    owner = owner_id if owner_id is not None else actor.id
    require_pipeline_edit(actor, owner, "enter a deal for another owner")
    ts = accounts.now_ts(now)
    with db.atomic() as cur:
        if new_account:
            account_id = accounts.create(db, actor, now=now, cur=cur, owner_id=owner, **new_account)
        if account_id in (None, ""):
            raise ValidationError("Choose the deal's account, or enter a new one.", field="account_id")
        product = _ids([product_id]) if product_id is not None else []
        found, stage, dept, product_found = _with_stage(cur, "accounts", int(account_id), _DEAL_ACCOUNT_COLS,
                                                        _stage_key(stage_id), owner, product[0] if product else None)
        acct = accounts.check_owned(actor, found, int(account_id), "enter deals on it")
        stage = _valid_stage(stage, stage_id)
        if product_id is not None and not product_found:
            raise ValidationError(f"Product {product_id} does not exist.", field="product_id", value=product_id)
        product_id = product[0] if product else None
        row = {"account_id": acct["id"], "name": name, "owner_id": owner, "department_id": dept,
               "product_id": product_id, "stage_id": stage["id"], "amount": amount_d, "probability": prob,
               "expected_close": close, "created_at": ts, "stage_entered_at": ts, "last_activity_at": ts,
               "status": "open", "source": (source or "").strip() or None, "region": acct["region"],
               "updated_at": ts}
        opp_id = accounts.insert_row(cur, "opportunities", row)
        opp = {**row, "id": opp_id, "stage_id": None}
        closing = _stage_change(cur, actor, opp, stage, lost_reason, ts)
        if closing["status"] != "open":
            cur.execute("UPDATE opportunities SET status = ?, closed_at = ?, lost_reason = ? WHERE id = ?",
                        [closing["status"], closing["closed_at"], closing["lost_reason"], opp_id])
        _add_contacts(cur, acct["id"], opp_id, contacts or [])
        _add_team(cur, opp_id, owner, team or [])
        if acct["lifecycle"] == "lead":
            cur.execute("UPDATE accounts SET lifecycle = 'prospect' WHERE id = ?", [acct["id"]])
        audit.record(cur, actor, "create", "opportunity", opp_id,
                     after={**row, **closing, "contacts": contacts or [], "team": team or []})
        # inside the transaction: the listeners' marks commit with the deal (see hooks)
        hooks.notify(db, "opportunities", [acct["id"]])
        if new_account:
            hooks.notify(db, "accounts", [acct["id"]])
    return opp_id


def _ids(values: list[Any]) -> list[int]:
    """The values that are whole numbers, as ints (the others match no row)."""
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            pass
    return out


def _insert_rows(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """All `rows` in one multi-row INSERT (each statement costs ~1 ms of a save; names are crm_core's own)."""
    if rows:
        marks = ", ".join("(" + ", ".join("?" for _ in columns) + ")" for _ in rows)
        cur.execute(f"INSERT INTO {quote_ident(table)} ({', '.join(map(quote_ident, columns))}) VALUES {marks}",
                    [v for row in rows for v in row])


def _add_contacts(cur: Any, account_id: int, opp_id: int, contacts: list[tuple[int, str]]) -> None:
    """The deal's people: one read of all of them and one insert, checked in the order given."""
    found = {}
    if contacts:
        found = dict(cur.execute("SELECT id, account_id FROM contacts WHERE id IN (SELECT unnest(?::BIGINT[]))",
                                 [_ids([c for c, _ in contacts])]).fetchall())
    rows, seen = [], set()
    for contact_id, role in contacts:
        if role not in DECISION_ROLES:
            raise ValidationError(f"Decision role must be one of {', '.join(DECISION_ROLES)}, not {role!r}.",
                                  field="contacts", value=role)
        key = _ids([contact_id])
        if not key or found.get(key[0], -1) != account_id:
            raise ValidationError(f"Contact {contact_id} is not a contact of this deal's account.",
                                  field="contacts", value=contact_id)
        if key[0] in seen:
            continue
        seen.add(key[0])
        rows.append((opp_id, key[0], role))
    _insert_rows(cur, "opportunity_contacts", ("opportunity_id", "contact_id", "role"), rows)


def _add_team(cur: Any, opp_id: int, owner: int, team: list[tuple[int, str | None]]) -> None:
    """Colleagues on the deal: one read of all of them and one insert, checked in the order given."""
    found = {}
    if team:
        found = {r[0]: r[1:] for r in cur.execute(
            "SELECT id, active, role FROM users WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [_ids([u for u, _ in team])]).fetchall()}
    rows, seen = [], {owner}
    for user_id, role in team:
        key = _ids([user_id])
        user = found.get(key[0]) if key else None
        if user is None or not user[0] or user[1] not in ("rep", "manager"):
            raise ValidationError(f"User {user_id} is not an active sales user; team members must be.",
                                  field="team", value=user_id)
        if key[0] in seen:
            continue
        seen.add(key[0])
        rows.append((opp_id, key[0], (role or "").strip() or None))
    _insert_rows(cur, "opportunity_team", ("opportunity_id", "user_id", "role"), rows)


def set_team(db: Database, actor: Actor, opp_id: int, expected_version: int, team: list[int], *,
             now: datetime | None = None) -> list[int]:
    """Replace the colleagues on a deal (its owner is on it anyway); returns the new team's user ids.

    Versioned like any edit of the deal: a page showing an older version is
    refused with the current team. Members who stay keep their role; new ones
    join as "support". Audited with the team before and after.
    """
    with db.atomic() as cur:
        found = cur.execute("SELECT owner_id, version FROM opportunities WHERE id = ?", [opp_id]).fetchone()
        if found is None:
            raise NotFound(f"Opportunity {opp_id} does not exist.")
        owner, version = found
        require_pipeline_edit(actor, owner, "change this deal's team")
        roles = dict(cur.execute("SELECT user_id, role FROM opportunity_team WHERE opportunity_id = ?",
                                 [opp_id]).fetchall())
        if version != expected_version:
            raise StaleEditError(f"Opportunity {opp_id} was changed by someone else meanwhile; reload it.",
                                 current={"version": version, "team": sorted(roles)})
        cur.execute("DELETE FROM opportunity_team WHERE opportunity_id = ?", [opp_id])
        # whoever stays keeps their role; _add_team refuses ids that are no active sales user
        _add_team(cur, opp_id, owner, [(u, roles.get(next(iter(_ids([u])), None), "support")) for u in team])
        after = sorted(r[0] for r in cur.execute("SELECT user_id FROM opportunity_team WHERE opportunity_id = ?",
                                                 [opp_id]).fetchall())
        cur.execute("UPDATE opportunities SET version = version + 1, updated_at = ? WHERE id = ?",
                    [accounts.now_ts(now), opp_id])
        audit.record(cur, actor, "update", "opportunity_team", opp_id, before={"team": sorted(roles)},
                     after={"team": after})
    return after


def update(db: Database, actor: Actor, opp_id: int, expected_version: int, changes: dict[str, Any], *,
           now: datetime | None = None, row_label: str = "", cur: Any = None) -> dict[str, Any]:
    """Edit one deal: name, stage_id, amount, probability, expected_close, product_id, lost_reason.

    Versioned; stage and close-date moves are written to their history tables.
    Returns the columns the edit read, as they are after it: id, owner_id,
    account_id, stage_id, updated_at, version and those of the changed fields
    (a stage move's status, closed_at, lost_reason and stage_entered_at).
    """
    if cur is None:
        with db.atomic() as tx:
            after = update(db, actor, opp_id, expected_version, changes, now=now, row_label=row_label, cur=tx)
            hooks.notify(db, "opportunities", [after["account_id"]])  # one commit with the save (see hooks)
        return after
    allowed = {"name", "stage_id", "amount", "probability", "expected_close", "product_id", "lost_reason"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"{row_label}Opportunities have no editable field {sorted(unknown)[0]!r}.")
    ts = accounts.now_ts(now)
    wanted = changes.get("stage_id")
    product = changes.get("product_id")
    product_key = (_ids([product]) or [-1])[0] if product is not None else None
    opp, stage, _, product_found = _with_stage(cur, "opportunities", opp_id, _edit_columns(changes), _stage_key(wanted),
                                               product_id=product_key)
    if opp is None:
        raise NotFound(f"{row_label}Opportunity {opp_id} does not exist.")
    require_pipeline_edit(actor, opp["owner_id"], "edit this opportunity")
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = (changes["name"] or "").strip()
        if not clean["name"]:
            raise ValidationError(f"{row_label}An opportunity needs a name.", field="name")
    if "amount" in changes:
        clean["amount"] = _amount(changes["amount"], row_label)
    if "probability" in changes:
        clean["probability"] = _probability(changes["probability"], row_label)
    if "expected_close" in changes:
        clean["expected_close"] = _close_date(changes["expected_close"], row_label)
        if clean["expected_close"] is None:
            raise ValidationError(f"{row_label}Expected close cannot be empty.", field="expected_close")
    if "product_id" in changes:
        if product is not None and not product_found:  # checked in the read above (no statement of its own)
            raise ValidationError(f"{row_label}Product {product} does not exist; expected a product's id.",
                                  field="product_id", value=product)
        clean["product_id"] = product_key
    if opp["version"] != expected_version:
        # Let update_versioned refuse it with the current values, before any history is written.
        return records.update_versioned(db, actor, "opportunities", opp_id, expected_version, clean,
                                        entity="opportunity", cur=cur)
    if wanted is not None and (_stage_key(wanted) is None or _stage_key(wanted) != opp["stage_id"]):
        stage = _valid_stage(stage, wanted, row_label)
        clean.update(_stage_change(cur, actor, opp, stage, changes.get("lost_reason"), ts, row_label))
    elif "lost_reason" in changes and opp["status"] == "lost":
        clean["lost_reason"] = (changes["lost_reason"] or "").strip() or opp["lost_reason"]
    if "expected_close" in clean and clean["expected_close"] != opp["expected_close"]:
        cur.execute(
            "INSERT INTO close_date_history (opportunity_id, old_date, new_date, changed_at, changed_by) "
            "VALUES (?, ?, ?, ?, ?)",
            [opp_id, opp["expected_close"], clean["expected_close"], ts, actor.id],
        )
    if not any(opp.get(k) != v for k, v in clean.items()):
        return opp
    clean["updated_at"] = ts
    return records.update_versioned(db, actor, "opportunities", opp_id, expected_version, clean,
                                    entity="opportunity", cur=cur, current=opp)


def apply_grid_edits(db: Database, actor: Actor, original: list[dict[str, Any]], edited: list[dict[str, Any]], *,
                     now: datetime | None = None) -> tuple[list[int], list[CrmError]]:
    """Save the rows of the editable grid that changed, each in its own versioned update.

    `original` and `edited` are the grid's rows (id, version, name, stage (by
    name), amount, probability, expected_close, lost_reason) before and after
    editing, in the same order. Returns (saved ids, errors), each error naming
    its row; a refused row changes nothing, the other rows still save.
    """
    stage_ids = stage_ids_by_name(db)
    saved: list[int] = []
    errors: list[CrmError] = []
    for n, (before, after) in enumerate(zip(original, edited), start=1):
        changes: dict[str, Any] = {}
        for col in GRID_COLUMNS:
            if col in after and _differs(before.get(col), after.get(col)):
                changes[col] = after.get(col)
        if not changes:
            continue
        label = f"Row {n} ({before.get('name')}): "
        if "stage" in changes:
            if changes["stage"] not in stage_ids:
                errors.append(ValidationError(f"{label}stage {changes['stage']!r} is not one of the configured "
                                              "stages.", field="stage", value=changes["stage"]))
                continue
            changes["stage_id"] = stage_ids[changes.pop("stage")]
            changes["lost_reason"] = after.get("lost_reason")
        try:
            with db.atomic() as cur:
                result = update(db, actor, int(before["id"]), int(before["version"]), changes, now=now,
                                row_label=label, cur=cur)
                hooks.notify(db, "opportunities", [result["account_id"]])  # commits with the row
        except CrmError as exc:
            errors.append(exc)
            continue
        saved.append(int(before["id"]))
    return saved, errors


def _differs(a: Any, b: Any) -> bool:
    if _blank(a) and _blank(b):
        return False
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return abs(float(a) - float(b)) > 1e-9
    if isinstance(a, datetime):
        a = a.date()
    if isinstance(b, datetime):
        b = b.date()
    if isinstance(a, date) and isinstance(b, str):
        return a.isoformat() != b[:10]
    return a != b


def _blank(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def get(db: Database, actor: Actor, opp_id: int) -> dict[str, Any]:
    """One deal with its stage, playbook (and the items ticked), contacts and team, if the actor may see it."""
    scope, sp = owner_scope(actor, "o.owner_id")
    row = db.one(
        f"""
        SELECT o.*, s.name AS stage, s.playbook, a.name AS account
        FROM opportunities o JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id
        WHERE o.id = ? AND {scope}
        """,
        [opp_id, *sp],
    )
    if row is None:
        raise NotFound(f"Opportunity {opp_id} does not exist or is not visible to you.")
    row["contacts"] = db.dicts(
        "SELECT c.id, c.name, c.title, oc.role FROM opportunity_contacts oc JOIN contacts c ON c.id = oc.contact_id "
        "WHERE oc.opportunity_id = ? ORDER BY c.name", [opp_id])
    row["team"] = db.dicts(
        "SELECT u.id, u.display_name, t.role FROM opportunity_team t JOIN users u ON u.id = t.user_id "
        "WHERE t.opportunity_id = ? ORDER BY u.display_name", [opp_id])
    row["stage_history"] = db.dicts(
        "SELECT h.changed_at, f.name AS from_stage, s.name AS to_stage FROM stage_history h "
        "LEFT JOIN stages f ON f.id = h.from_stage_id JOIN stages s ON s.id = h.to_stage_id "
        "WHERE h.opportunity_id = ? ORDER BY h.changed_at, h.id", [opp_id])
    row["ticked"] = playbook.ticked(db, actor, opp_id, row["stage_id"])
    return row


def set_playbook(db: Database, actor: Actor, stage_id: int, expected_version: int, items: list[str]) -> dict:
    """Replace a stage's checklist (Settings, managers and admins); versioned."""
    require(actor, actor.is_manager_or_admin, "change stage playbooks")
    clean = [str(i).strip() for i in items if str(i).strip()]
    return records.update_versioned(db, actor, "stages", stage_id, expected_version, {"playbook": clean},
                                    entity="stage")


def open_for_account(db: Database, actor: Actor, account_id: int) -> pl.DataFrame:
    """(id, name) of the open deals on one account that the actor may see."""
    scope, sp = owner_scope(actor, "owner_id")
    return db.query(
        f"SELECT id, name FROM opportunities WHERE account_id = ? AND status = 'open' AND {scope} ORDER BY name",
        [account_id, *sp],
    )
