"""Writing relationships: account links, superior units, reports-to lines, deal roles and stance.

Every write checks its input (naming the row, field and value when refusing),
checks the actor's right to edit (`access.require_pipeline_edit` on the owner
of the row concerned; a link needs the right to edit either account), runs in
one `db.atomic()` with its audit entry, and refuses a change that would make a
unit its own superior or a contact their own boss. Edits of existing rows are
versioned: an edit made on stale data is refused with the current values.
"""

from __future__ import annotations

from typing import Any

from crm_core import audit, hooks, records
from crm_core.access import Actor, can_see_owner, require, require_pipeline_edit
from crm_core.db import Database, quote_ident
from crm_core.errors import DuplicateError, NotFound, StaleEditError, ValidationError
from crm_core.graph import DECISION_ROLES, LINK_KINDS, STANCES

NOTE_MAX = 2000
# A link read the other way round: "A supplier_of B" is "B customer_of A".
_REVERSE = {"supplier_of": "customer_of", "customer_of": "supplier_of", "partner_of": "partner_of",
            "competitor_of": "competitor_of"}


def _one(cur: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    res = cur.execute(sql, params)
    row = res.fetchone()
    return None if row is None else dict(zip([d[0] for d in res.description], row))


def _account(cur: Any, account_id: Any, what: str) -> dict[str, Any]:
    try:
        aid = int(account_id)
    except (TypeError, ValueError):
        raise ValidationError(f"{what}: {account_id!r} is not an account id (a whole number).",
                              field=what, value=account_id) from None
    acct = _one(cur, "SELECT id, name, owner_id, parent_id, merged_into_id, version FROM accounts WHERE id = ?",
                [aid])
    if acct is None:
        raise NotFound(f"{what}: account {aid} does not exist.")
    if acct["merged_into_id"] is not None:
        raise ValidationError(f"{what}: account {aid} ({acct['name']}) was merged into account "
                              f"{acct['merged_into_id']}; use that one.", field=what, value=aid)
    return acct


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValidationError(f"Note: expected text, got {note!r}.", field="note", value=note)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"Note: {len(note)} characters; at most {NOTE_MAX} are allowed.", field="note",
                              value=len(note))
    return note or None


def _may_edit_either(actor: Actor, a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    require(actor, actor.can_edit_pipeline, what)
    if actor.role == "admin":
        return
    require(actor, can_see_owner(actor, a["owner_id"]) or can_see_owner(actor, b["owner_id"]),
            what + " (neither account is yours)")


def _is_superior(cur: Any, upper: int, lower: int) -> bool:
    """Is `upper` already `lower` itself or above it in the hierarchy (parent_id and subsidiary_of links)?"""
    res = cur.execute(
        """
        WITH RECURSIVE up_steps AS (
            SELECT id AS src, parent_id AS dst FROM accounts WHERE parent_id IS NOT NULL
            UNION ALL
            SELECT from_account_id, to_account_id FROM account_links WHERE kind = 'subsidiary_of'
        ),
        up(id) USING KEY (id) AS (
            SELECT ?::BIGINT
            UNION
            SELECT DISTINCT s.dst FROM up JOIN up_steps s ON s.src = up.id
            WHERE s.dst NOT IN (SELECT id FROM recurring.up)
        )
        SELECT count(*) FROM up WHERE id = ?
        """,
        [lower, upper],
    )
    return bool(res.fetchone()[0])


def add_link(db: Database, actor: Actor, from_account_id: Any, to_account_id: Any, kind: str,
             note: str | None = None) -> dict[str, Any]:
    """Record that account `from` is `kind` of account `to` (e.g. supplier_of). Returns the new link."""
    if kind not in LINK_KINDS:
        raise ValidationError(f"Relation {kind!r} is not known; expected one of {', '.join(LINK_KINDS)}.",
                              field="kind", value=kind)
    note = _note(note)
    with db.atomic() as cur:
        a = _account(cur, from_account_id, "From account")
        b = _account(cur, to_account_id, "To account")
        if a["id"] == b["id"]:
            raise ValidationError(f"An account cannot be linked to itself (account {a['id']}).",
                                  field="to_account_id", value=b["id"])
        _may_edit_either(actor, a, b, "link these accounts")
        same = cur.execute(
            "SELECT id FROM account_links WHERE (from_account_id = ? AND to_account_id = ? AND kind = ?) "
            "OR (from_account_id = ? AND to_account_id = ? AND kind = ?)",
            [a["id"], b["id"], kind, b["id"], a["id"], _REVERSE.get(kind, "")],
        ).fetchone()
        if same:
            raise DuplicateError(f"{a['name']} is already recorded as {kind.replace('_', ' ')} {b['name']} "
                                 f"(link {same[0]}).", existing={"id": same[0]})
        if kind == "subsidiary_of" and _is_superior(cur, a["id"], b["id"]):
            raise ValidationError(
                f"{a['name']} (account {a['id']}) is already a superior unit of {b['name']} (account {b['id']}); "
                "making it a subsidiary too would create a loop.", field="to_account_id", value=b["id"])
        new_id = cur.execute(
            "INSERT INTO account_links (from_account_id, to_account_id, kind, note, created_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            [a["id"], b["id"], kind, note, actor.id],
        ).fetchone()[0]
        row = {"id": new_id, "from_account_id": a["id"], "to_account_id": b["id"], "kind": kind, "note": note}
        audit.record(cur, actor, "create", "account_link", new_id, after=row)
    return row


def delete_link(db: Database, actor: Actor, link_id: int) -> dict[str, Any]:
    """Remove one account link. Returns the removed row."""
    with db.atomic() as cur:
        link = _one(cur, "SELECT id, from_account_id, to_account_id, kind, note FROM account_links WHERE id = ?",
                    [link_id])
        if link is None:
            raise NotFound(f"Link {link_id} does not exist (it may have been deleted already).")
        a = _account(cur, link["from_account_id"], "From account")
        b = _account(cur, link["to_account_id"], "To account")
        _may_edit_either(actor, a, b, "remove this link")
        cur.execute("DELETE FROM account_links WHERE id = ?", [link_id])
        audit.record(cur, actor, "delete", "account_link", link_id, before=link)
    return link


def set_parent(db: Database, actor: Actor, account_id: int, parent_id: int | None,
               expected_version: int) -> dict[str, Any]:
    """Set (or clear, with None) an account's superior unit; refuses loops."""
    with db.atomic() as cur:
        acct = _account(cur, account_id, "Account")
        require_pipeline_edit(actor, acct["owner_id"], "change this account's superior unit")
        if parent_id is not None:
            parent = _account(cur, parent_id, "Superior unit")
            if parent["id"] == acct["id"]:
                raise ValidationError(f"Account {acct['id']} cannot be its own superior unit.",
                                      field="parent_id", value=parent_id)
            if _is_superior(cur, acct["id"], parent["id"]):
                raise ValidationError(
                    f"{parent['name']} (account {parent['id']}) is below {acct['name']} (account {acct['id']}) "
                    "in the hierarchy; making it the superior unit would create a loop.",
                    field="parent_id", value=parent_id)
            parent_id = parent["id"]
        after = records.update_versioned(db, actor, "accounts", acct["id"], expected_version,
                                         {"parent_id": parent_id}, entity="account", cur=cur)
        hooks.notify(db, "accounts", [acct["id"]])  # one commit with the save (see hooks)
    return after


def _contact(cur: Any, contact_id: Any, what: str) -> dict[str, Any]:
    c = _one(cur, "SELECT k.id, k.name, k.account_id, k.reports_to_id, k.version, a.owner_id "
             "FROM contacts k LEFT JOIN accounts a ON a.id = k.account_id WHERE k.id = ?", [contact_id])
    if c is None:
        raise NotFound(f"{what}: contact {contact_id} does not exist.")
    return c


def set_reports_to(db: Database, actor: Actor, contact_id: int, boss_id: int | None,
                   expected_version: int) -> dict[str, Any]:
    """Set (or clear) whom a contact reports to: a contact of the same account, never a loop."""
    with db.atomic() as cur:
        c = _contact(cur, contact_id, "Contact")
        require_pipeline_edit(actor, c["owner_id"], "change this contact")
        if boss_id is not None:
            boss = _contact(cur, boss_id, "Reports to")
            if boss["id"] == c["id"]:
                raise ValidationError(f"Contact {c['id']} ({c['name']}) cannot report to themselves.",
                                      field="reports_to_id", value=boss_id)
            if boss["account_id"] != c["account_id"]:
                raise ValidationError(
                    f"{boss['name']} (contact {boss['id']}) works for account {boss['account_id']}, not for "
                    f"account {c['account_id']} of {c['name']}; choose a colleague from the same account.",
                    field="reports_to_id", value=boss_id)
            # walk up from the new boss: reaching the contact means a loop
            seen, b = set(), boss["id"]
            chain = dict(cur.execute("SELECT id, reports_to_id FROM contacts WHERE account_id = ?",
                                     [c["account_id"]]).fetchall())
            while b is not None and b not in seen:
                if b == c["id"]:
                    raise ValidationError(
                        f"{boss['name']} (contact {boss['id']}) already reports, directly or through others, to "
                        f"{c['name']} (contact {c['id']}); this would create a loop.",
                        field="reports_to_id", value=boss_id)
                seen.add(b)
                b = chain.get(b)
        return records.update_versioned(db, actor, "contacts", c["id"], expected_version,
                                        {"reports_to_id": boss_id}, entity="contact", cur=cur)


def _deal(cur: Any, opportunity_id: int) -> dict[str, Any]:
    deal = _one(cur, "SELECT id, name, account_id, owner_id FROM opportunities WHERE id = ?", [opportunity_id])
    if deal is None:
        raise NotFound(f"Opportunity {opportunity_id} does not exist.")
    return deal


def _check_role_stance(role: str | None, stance: str | None, where: str) -> None:
    if role is not None and role not in DECISION_ROLES:
        raise ValidationError(f"{where}: role {role!r} is not known; expected one of {', '.join(DECISION_ROLES)}.",
                              field="role", value=role)
    if stance is not None and stance not in STANCES:
        raise ValidationError(f"{where}: stance {stance!r} is not known; expected one of {', '.join(STANCES)}.",
                              field="stance", value=stance)


def add_deal_contact(db: Database, actor: Actor, opportunity_id: int, contact_id: int, role: str,
                     stance: str | None = "unknown", note: str | None = None) -> dict[str, Any]:
    """Put a contact of the deal's account on the deal with a decision role and stance."""
    _check_role_stance(role, stance, f"Contact {contact_id}")
    if role is None:
        raise ValidationError("A role is required.", field="role", value=None)
    note = _note(note)
    with db.atomic() as cur:
        deal = _deal(cur, opportunity_id)
        require_pipeline_edit(actor, deal["owner_id"], "change this opportunity")
        c = _contact(cur, contact_id, "Contact")
        if c["account_id"] != deal["account_id"]:
            raise ValidationError(
                f"{c['name']} (contact {c['id']}) works for account {c['account_id']}, not for the deal's account "
                f"{deal['account_id']}.", field="contact_id", value=contact_id)
        if cur.execute("SELECT 1 FROM opportunity_contacts WHERE opportunity_id = ? AND contact_id = ?",
                       [opportunity_id, contact_id]).fetchone():
            raise DuplicateError(f"{c['name']} (contact {c['id']}) is already on opportunity {opportunity_id}.")
        row = {"opportunity_id": opportunity_id, "contact_id": contact_id, "role": role, "stance": stance,
               "note": note, "version": 1}
        cur.execute("INSERT INTO opportunity_contacts (opportunity_id, contact_id, role, stance, note, version) "
                    "VALUES (?, ?, ?, ?, ?, 1)", [opportunity_id, contact_id, role, stance, note])
        audit.record(cur, actor, "create", "opportunity_contact", opportunity_id, after=row,
                     note=f"contact {contact_id}")
    return row


def _deal_contact_for_edit(cur: Any, actor: Actor, opportunity_id: int, contact_id: int,
                           expected_version: int) -> dict[str, Any]:
    """The deal-contact row, after checking the right to edit the deal and that the row is not stale."""
    deal = _deal(cur, opportunity_id)
    require_pipeline_edit(actor, deal["owner_id"], "change this opportunity")
    before = _one(cur, "SELECT opportunity_id, contact_id, role, stance, note, version FROM opportunity_contacts "
                  "WHERE opportunity_id = ? AND contact_id = ?", [opportunity_id, contact_id])
    if before is None:
        raise NotFound(f"Contact {contact_id} is not on opportunity {opportunity_id} (it may have been removed).")
    if before["version"] != expected_version:
        raise StaleEditError(
            f"The role of contact {contact_id} on opportunity {opportunity_id} was changed by someone else "
            f"(your copy is version {expected_version}, the current one is version {before['version']}). "
            "Your change was not applied; review the current values and try again.", current=before)
    return before


def set_deal_contact(db: Database, actor: Actor, opportunity_id: int, contact_id: int, expected_version: int,
                     *, role: str | None = None, stance: str | None = None,
                     note: str | None = None) -> dict[str, Any]:
    """Change a deal contact's role, stance and/or note (None leaves a field as it is); versioned."""
    _check_role_stance(role, stance, f"Contact {contact_id}")
    changes: dict[str, Any] = {}
    if role is not None:
        changes["role"] = role
    if stance is not None:
        changes["stance"] = stance
    if note is not None:
        changes["note"] = _note(note)
    with db.atomic() as cur:
        before = _deal_contact_for_edit(cur, actor, opportunity_id, contact_id, expected_version)
        real = {k: v for k, v in changes.items() if before.get(k) != v}
        if not real:
            return before
        sets = ", ".join(f"{quote_ident(k)} = ?" for k in real)
        cur.execute(f"UPDATE opportunity_contacts SET {sets}, version = version + 1 "
                    "WHERE opportunity_id = ? AND contact_id = ? AND version = ?",
                    [*real.values(), opportunity_id, contact_id, expected_version])
        audit.record(cur, actor, "update", "opportunity_contact", opportunity_id,
                     before={"contact_id": contact_id, **{k: before[k] for k in real}},
                     after={"contact_id": contact_id, **real}, note=f"contact {contact_id}")
    return {**before, **real, "version": expected_version + 1}


def remove_deal_contact(db: Database, actor: Actor, opportunity_id: int, contact_id: int,
                        expected_version: int) -> dict[str, Any]:
    """Take a contact off a deal; versioned like an edit."""
    with db.atomic() as cur:
        before = _deal_contact_for_edit(cur, actor, opportunity_id, contact_id, expected_version)
        cur.execute("DELETE FROM opportunity_contacts WHERE opportunity_id = ? AND contact_id = ?",
                    [opportunity_id, contact_id])
        audit.record(cur, actor, "delete", "opportunity_contact", opportunity_id, before=before,
                     note=f"contact {contact_id}")
    return before
