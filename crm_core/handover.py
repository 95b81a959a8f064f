"""Handover: a manager moves a departing rep's book to colleagues in one action.

The rep's accounts are dealt out in turn to the receiving reps (by account id,
so the split is predictable); each open opportunity and open task follows its
account's new owner (deals on accounts the rep did not own go to the first
receiver). Closed deals keep their owner, so won revenue stays credited to
whoever won it. History stays: stage history, follow-ups and orders are not
touched, and every move is in `pool_events` (kind 'handover') and the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from crm_core import accounts, audit, hooks
from crm_core.access import Actor, require_pipeline_edit, require_role
from crm_core.db import Database
from crm_core.errors import ValidationError


def preview(db: Database, actor: Actor, from_user_id: int) -> dict[str, int]:
    """How much a handover of `from_user_id` would move."""
    require_role(actor, ("admin", "manager"), "hand over a rep's accounts")
    require_pipeline_edit(actor, from_user_id, "hand over this rep's accounts")
    row = db.one(
        """
        SELECT (SELECT count(*) FROM accounts WHERE owner_id = $u AND merged_into_id IS NULL) AS accounts,
               (SELECT count(*) FROM opportunities WHERE owner_id = $u AND status = 'open') AS open_opportunities,
               (SELECT count(*) FROM activities WHERE owner_id = $u AND NOT done) AS open_tasks
        """,
        {"u": from_user_id},
    )
    return dict(row or {})


def hand_over(db: Database, actor: Actor, from_user_id: int, to_user_ids: list[int], *,
              now: datetime | None = None) -> dict[str, int]:
    """Move every account, open deal and open task of `from_user_id` to `to_user_ids`. Returns counts."""
    require_role(actor, ("admin", "manager"), "hand over a rep's accounts")
    receivers = [int(u) for u in dict.fromkeys(to_user_ids or []) if int(u) != int(from_user_id)]
    if not receivers:
        raise ValidationError("Choose at least one colleague to receive the accounts.", field="to_user_ids")
    require_pipeline_edit(actor, from_user_id, "hand over this rep's accounts")
    for u in receivers:
        found = db.one("SELECT active, role, display_name FROM users WHERE id = ?", [u])
        if found is None or not found["active"] or found["role"] not in ("rep", "manager"):
            raise ValidationError(f"User {u} is not an active sales user and cannot receive accounts.",
                                  field="to_user_ids", value=u)
        require_pipeline_edit(actor, u, f"hand accounts to {found['display_name']}")
    ts = accounts.now_ts(now)
    with db.atomic() as cur:
        acc_ids = [r[0] for r in cur.execute(
            "SELECT id FROM accounts WHERE owner_id = ? AND merged_into_id IS NULL ORDER BY id",
            [from_user_id]).fetchall()]
        plan = pl.DataFrame({"id": acc_ids, "new_owner": [receivers[i % len(receivers)] for i in range(len(acc_ids))]},
                            schema={"id": pl.Int64, "new_owner": pl.Int64})
        cur.register("_handover", plan.to_arrow())
        try:
            n_acc = _count(cur.execute(
                "UPDATE accounts SET owner_id = h.new_owner, previous_owner_id = ?, claimed_at = ?, "
                "last_followup_at = greatest(coalesce(last_followup_at, ?), ?), updated_at = ?, "
                "version = version + 1 FROM _handover h WHERE accounts.id = h.id", [from_user_id, ts, ts, ts, ts]))
            # the accounts of the deals that change hands (some are on accounts the leaver does not own)
            deal_accounts = [r[0] for r in cur.execute(
                "SELECT DISTINCT account_id FROM opportunities WHERE owner_id = ? AND status = 'open' "
                "AND account_id IS NOT NULL", [from_user_id]).fetchall()]
            n_opp = _count(cur.execute(
                "UPDATE opportunities SET owner_id = coalesce(h.new_owner, ?), updated_at = ?, version = version + 1 "
                "FROM (SELECT o.id, h.new_owner FROM opportunities o LEFT JOIN _handover h ON h.id = o.account_id "
                "      WHERE o.owner_id = ? AND o.status = 'open') h WHERE opportunities.id = h.id",
                [receivers[0], ts, from_user_id]))
            n_task = _count(cur.execute(
                "UPDATE activities SET owner_id = coalesce(h.new_owner, ?), version = version + 1 "
                "FROM (SELECT t.id, h.new_owner FROM activities t LEFT JOIN _handover h ON h.id = t.account_id "
                "      WHERE t.owner_id = ? AND NOT t.done) h WHERE activities.id = h.id",
                [receivers[0], from_user_id]))
            cur.execute(
                "INSERT INTO pool_events (account_id, user_id, kind, happened_at, reason, by_user) "
                "SELECT id, new_owner, 'handover', ?, ?, ? FROM _handover",
                [ts, f"handover from user {from_user_id}", actor.id])
        finally:
            cur.unregister("_handover")
        result = {"accounts": n_acc, "open_opportunities": n_opp, "open_tasks": n_task}
        audit.record(cur, actor, "handover", "user", from_user_id, before={"owner_id": from_user_id},
                     after={"to_user_ids": receivers, **result})
        # the listeners' marks commit with the hand-over (see hooks); naming the accounts keeps the
        # next read to those, where "any account" would recompute every summary
        hooks.notify(db, "accounts", acc_ids)
        hooks.notify(db, "opportunities", sorted(set(acc_ids) | set(deal_accounts)))
    return result


def _count(res: Any) -> int:
    row = res.fetchone()
    return int(row[0]) if row else 0


def departing_reps(db: Database, actor: Actor) -> pl.DataFrame:
    """Inactive reps who still own accounts or open deals (awaiting handover), within the actor's reach."""
    from crm_core.access import owner_scope

    scope, sp = owner_scope(actor, "u.id")
    return db.query(
        f"""
        SELECT u.id, u.display_name,
               (SELECT count(*) FROM accounts a WHERE a.owner_id = u.id AND a.merged_into_id IS NULL) AS accounts,
               (SELECT count(*) FROM opportunities o WHERE o.owner_id = u.id AND o.status = 'open') AS open_deals
        FROM users u
        WHERE u.role IN ('rep', 'manager') AND NOT u.active AND {scope}
        ORDER BY u.display_name
        """,
        sp,
    )
