"""Ticking off a deal's stage playbook: which checklist items are done, by whom and when.

A stage's playbook (Settings > Pipeline rules) is a list of items. Each deal
keeps its own ticks per stage in `playbook_ticks`, so a deal that moves on and
comes back finds its earlier ticks again. Ticks are edited one item at a time:
the caller says what it showed (`was_done`), and a tick someone else changed
meanwhile is refused with the current state instead of being flipped back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_core import accounts, audit
from crm_core.access import Actor, owner_scope, require_pipeline_edit
from crm_core.db import Database
from crm_core.errors import NotFound, StaleEditError, ValidationError


def ticked(db: Database, actor: Actor, opp_id: int, stage_id: int) -> list[str]:
    """The items of stage `stage_id` done on deal `opp_id` (empty when the actor may not see the deal)."""
    scope, sp = owner_scope(actor, "o.owner_id")
    return [r[0] for r in db.rows(
        f"SELECT t.item FROM playbook_ticks t JOIN opportunities o ON o.id = t.opportunity_id "
        f"WHERE t.opportunity_id = ? AND t.stage_id = ? AND {scope} ORDER BY t.item", [opp_id, stage_id, *sp])]


def set_done(db: Database, actor: Actor, opp_id: int, item: str, done: bool, *, was_done: bool,
             now: datetime | None = None) -> dict[str, Any]:
    """Tick (`done=True`) or untick one item of the deal's current stage; audited.

    Refused when the item is not in the stage's playbook, when the actor may
    not edit the deal, or when the item's state is no longer `was_done`.
    """
    with db.atomic() as cur:
        found = cur.execute(
            "SELECT o.owner_id, o.stage_id, s.name, s.playbook, "
            "EXISTS (SELECT 1 FROM playbook_ticks t WHERE t.opportunity_id = o.id AND t.stage_id = o.stage_id "
            "AND t.item = ?) FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.id = ?",
            [item, opp_id]).fetchone()
        if found is None:
            raise NotFound(f"Opportunity {opp_id} does not exist.")
        owner_id, stage_id, stage, items, current = found
        require_pipeline_edit(actor, owner_id, "tick this deal's playbook")
        if item not in (items or []):
            raise ValidationError(f"{item!r} is not an item of the {stage} playbook; expected one of: "
                                  f"{', '.join(repr(i) for i in items or []) or '(none)'}.", field="item", value=item)
        state = {"opportunity_id": opp_id, "stage": stage, "item": item, "done": bool(current)}
        if bool(current) != bool(was_done):
            raise StaleEditError(f"Someone else has {'ticked' if current else 'unticked'} {item!r} meanwhile; "
                                 "reload to see the deal as it is now.", current=state)
        if bool(done) == bool(current):
            return state
        if done:
            cur.execute("INSERT INTO playbook_ticks VALUES (?, ?, ?, ?, ?)",
                        [opp_id, stage_id, item, actor.id, accounts.now_ts(now)])
        else:
            cur.execute("DELETE FROM playbook_ticks WHERE opportunity_id = ? AND stage_id = ? AND item = ?",
                        [opp_id, stage_id, item])
        after = {**state, "done": bool(done)}
        audit.record(cur, actor, "update", "playbook_tick", opp_id, before=state, after=after)
    return after
