"""Acting on a segment or list: export it as formula-safe CSV, or create follow-up tasks.

Tasks are `activities` rows (kind 'task', not done, with a due date) owned by
each account's owner, so they appear in the owners' reminders. Only accounts
the actor may act on get a task (admins: any owned account; managers: their
team's; reps: their own); pool accounts (no owner) and the rest are skipped
and counted. One audit entry records the whole action with the new ids.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from crm_core import audit, hooks
from crm_core.access import Actor, can_see_owner, owner_scope, require
from crm_core.db import Database
from crm_core.errors import ValidationError

MAX_TASKS = 20_000
KINDS = ("tier", "abc", "segment", "churn_state", "cohort")


def select(cust: pl.DataFrame, kind: str, key: Any) -> pl.DataFrame:
    """The customers of one segment/list of the per-customer relation (kind: tier, abc, segment, ...)."""
    if kind not in KINDS:
        raise ValidationError(f"Unknown list {kind!r}; expected one of {', '.join(KINDS)}.", field="kind", value=kind)
    # "no value" is a list too (customers without a cohort...): `== None` would match nobody
    return cust.filter(pl.col(kind).is_null() if key is None else pl.col(kind) == key)


def to_csv(df: pl.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM, so Excel reads Chinese names); cells a spreadsheet would run as a
    formula (starting with = + - @ tab or CR) get a leading apostrophe."""
    risky = "^[=+\\-@\t\r]"
    safe = df.with_columns(
        pl.when(pl.col(c).str.contains(risky)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, kind in df.schema.items() if kind == pl.String
    )
    return ("\ufeff" + safe.write_csv()).encode("utf-8")


def create_followup_tasks(db: Database, actor: Actor, account_ids: list[int], *, subject: str,
                          due_date: date, details: str | None = None) -> dict[str, Any]:
    """One open task per account for its owner. Returns counts and the new activity ids.

    Refused (nothing created) when the subject is empty or no account may be acted on.
    """
    require(actor, actor.can_edit_pipeline, "create follow-up tasks")
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError("The task needs a subject (what to do), e.g. 'Call about renewal'.",
                              field="subject", value=subject)
    if len(subject) > 200:
        raise ValidationError(f"The task subject is {len(subject)} characters; at most 200 are allowed.",
                              field="subject", value=subject)
    if not isinstance(due_date, date):
        raise ValidationError(f"Due date must be a date, got {due_date!r}.", field="due_date", value=due_date)
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        raise ValidationError("The list is empty: there is no account to create a task for.", field="accounts")
    if len(ids) > MAX_TASKS:
        raise ValidationError(f"{len(ids):,} accounts selected; create tasks for at most {MAX_TASKS:,} at once.",
                              field="accounts", value=len(ids))
    with db.atomic() as cur:
        owners = cur.execute(
            "SELECT id, owner_id FROM accounts WHERE id IN (SELECT unnest(?::BIGINT[])) AND merged_into_id IS NULL",
            [ids]).fetchall()
        allowed = [(a, o) for a, o in owners if o is not None and (actor.role == "admin" or can_see_owner(actor, o))]
        if not allowed:
            raise ValidationError(
                f"None of the {len(ids)} accounts is one you may act on (they belong to other owners or to the "
                "public pool); no task was created.", field="accounts", value=len(ids))
        frame = pl.DataFrame({"account_id": [a for a, _ in allowed], "owner_id": [o for _, o in allowed]},
                             schema={"account_id": pl.Int64, "owner_id": pl.Int64})
        cur.register("_value_tasks", frame.to_arrow())
        try:
            new_ids = [r[0] for r in cur.execute(
                "INSERT INTO activities (kind, subject, details, account_id, owner_id, due_date, done, created_by) "
                "SELECT 'task', ?, ?, account_id, owner_id, ?, FALSE, ? FROM _value_tasks ORDER BY account_id "
                "RETURNING id", [subject, details, due_date, actor.id]).fetchall()]
        finally:
            cur.unregister("_value_tasks")
        audit.record(cur, actor, "create_tasks", "activities", None,
                     after={"subject": subject, "due_date": due_date, "activity_ids": new_ids,
                            "account_ids": [a for a, _ in allowed]},
                     note=f"value ranking: {len(new_ids)} follow-up tasks")
        hooks.notify(db, "activities", [a for a, _ in allowed])  # one commit with the tasks (see hooks)
    return {"created": len(new_ids), "skipped": len(ids) - len(allowed), "activity_ids": new_ids}


def open_tasks(db: Database, actor: Actor, *, limit: int = 500) -> pl.DataFrame:
    """Open follow-up tasks on accounts the actor may see, soonest due first (the reminders list).

    `total` is the number of all such tasks (the frame holds at most `limit`)."""
    scope, params = owner_scope(actor, "x.owner_id")
    return db.query(
        f"""
        SELECT x.id, x.due_date, x.subject, a.name AS account, u.display_name AS owner_name, x.account_id,
               count(*) OVER () AS total
        FROM activities x JOIN accounts a ON a.id = x.account_id LEFT JOIN users u ON u.id = x.owner_id
        WHERE x.kind = 'task' AND NOT x.done AND {scope}
        ORDER BY x.due_date NULLS LAST, x.id DESC
        LIMIT ?
        """, [*params, limit])
