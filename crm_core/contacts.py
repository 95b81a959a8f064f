"""Contacts: the people at an account, with who reports to whom.

A contact belongs to an account the actor works on; `reports_to_id` must be
another contact of the same account, and may not make a loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from crm_core import accounts, audit, records
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError

STANCES = ("supporter", "neutral", "opponent", "unknown")


def _check_reports_to(cur: Any, account_id: int, reports_to_id: int | None, self_id: int | None = None) -> None:
    if reports_to_id is None:
        return
    row = cur.execute("SELECT account_id FROM contacts WHERE id = ?", [reports_to_id]).fetchone()
    if row is None:
        raise ValidationError(f"Reports-to contact {reports_to_id} does not exist.", field="reports_to_id",
                              value=reports_to_id)
    if row[0] != account_id:
        raise ValidationError(f"Reports-to contact {reports_to_id} works at another account.",
                              field="reports_to_id", value=reports_to_id)
    if self_id is not None and accounts.reaches(cur, "contacts", "reports_to_id", reports_to_id, self_id):
        raise ValidationError(f"Contact {reports_to_id} already reports (indirectly) to contact {self_id}.",
                              field="reports_to_id", value=reports_to_id)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("name", "title", "department", "email", "phone", "notes"):
        if key in fields:
            value = fields[key]
            out[key] = (str(value).strip() or None) if value is not None else None
    if "name" in fields and not out.get("name"):
        raise ValidationError("A contact needs a name.", field="name", value=fields.get("name"))
    if out.get("email") and ("@" not in out["email"] or " " in out["email"]):
        raise ValidationError(f"{out['email']!r} is not an e-mail address.", field="email", value=out["email"])
    if "influence" in fields:
        value = fields["influence"]
        if value in (None, ""):
            out["influence"] = None
        else:
            try:
                out["influence"] = int(value)
            except (TypeError, ValueError):
                out["influence"] = -1
            if not 1 <= out["influence"] <= 5:
                raise ValidationError(f"Influence must be a whole number from 1 to 5, not {value!r}.",
                                      field="influence", value=value)
    if "stance" in fields:
        if fields["stance"] not in (None, *STANCES):
            raise ValidationError(f"Stance must be one of {', '.join(STANCES)}, not {fields['stance']!r}.",
                                  field="stance", value=fields["stance"])
        out["stance"] = fields["stance"]
    if "reports_to_id" in fields:
        out["reports_to_id"] = None if fields["reports_to_id"] in (None, "") else int(fields["reports_to_id"])
    return out


def create(db: Database, actor: Actor, *, account_id: int, name: str, now: datetime | None = None,
           cur: Any = None, **fields: Any) -> int:
    """Add a contact to an account the actor works on. Returns the new id."""
    if cur is None:
        with db.atomic() as tx:
            return create(db, actor, account_id=account_id, name=name, now=now, cur=tx, **fields)
    if account_id in (None, ""):
        raise ValidationError("Choose the contact's account.", field="account_id", value=account_id)
    clean = _clean({"name": name, **fields})
    accounts.require_owned(cur, actor, int(account_id), "add contacts to it")
    _check_reports_to(cur, int(account_id), clean.get("reports_to_id"))
    row = {**clean, "account_id": int(account_id), "created_at": accounts.now_ts(now), "created_by": actor.id}
    new_id = accounts.insert_row(cur, "contacts", row)
    audit.record(cur, actor, "create", "contact", new_id, after=row)
    return new_id


def update(db: Database, actor: Actor, contact_id: int, expected_version: int, changes: dict[str, Any]) -> dict:
    """Edit a contact (versioned)."""
    clean = _clean(changes)
    with db.atomic() as cur:
        row = records.fetch_row(cur, "contacts", contact_id)
        if row is None:
            raise ValidationError(f"Contact {contact_id} does not exist.", field="id", value=contact_id)
        accounts.require_owned(cur, actor, row["account_id"], "edit its contacts")
        if "reports_to_id" in clean:
            _check_reports_to(cur, row["account_id"], clean["reports_to_id"], contact_id)
        return records.update_versioned(db, actor, "contacts", contact_id, expected_version, clean,
                                        entity="contact", cur=cur)


def list_for_account(db: Database, actor: Actor, account_id: int) -> pl.DataFrame:
    """Contacts of one account, with the name of whom each reports to."""
    scope, sp = owner_scope(actor, "a.owner_id")
    return db.query(
        f"""
        SELECT c.id, c.name, c.title, c.department, b.name AS reports_to, c.email, c.phone, c.influence,
               c.stance, c.version
        FROM contacts c JOIN accounts a ON a.id = c.account_id
        LEFT JOIN contacts b ON b.id = c.reports_to_id
        WHERE c.account_id = ? AND {scope}
        ORDER BY c.reports_to_id NULLS FIRST, c.name
        """,
        [account_id, *sp],
    )
