"""Change notifications between modules, so that derived data stays current.

A module that keeps derived data (e.g. the account value summary) registers a
listener for the tables it derives from; every writer (forms, imports, undo,
merges) calls `notify(db, table, account_ids)` for what it changed.

When:
- a single-row save (a form, a grid row, a claim) calls `notify` with the
  affected account ids INSIDE its `with db.atomic()` block, after its writes.
  A listener's own `db.atomic()` then joins the save's transaction, so the
  save, its audit row and the listeners' marks (dirty-account queues) commit
  together in one commit (one WAL flush: at 1M deals each extra commit cost
  ~2-5 ms of a save's 20 ms budget), and roll back together when the save is
  refused. A listener that raises rolls the save back.
- a bulk write (imports, undo) may call it after its transaction commits.
  `account_ids=None` means "any account": listeners only mark their summary
  stale, and the next read (or `derived.refresh_all`) recomputes it, so the
  writer does not wait for a full recomputation.

Listeners must be idempotent (they recompute from the source tables) and
cheap when given ids (queue the accounts; the next read recomputes them). The
summaries in the database share one queue (`plan_facts_and_value_dirty`, written by
`crm_core.derived` in one insert per save): each statement of a save costs
~1 ms at 1M deals, so a save writes one dirty mark, not one per summary.
State a listener keeps outside the database (an in-memory "recheck these"
note) may outlive a rolled-back save: it must only ever cause a recheck, and
readers must look at the data under `db.atomic()` (which waits for the
writer) before they trust it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

Listener = Callable[[Any, "list[int] | None"], None]
_listeners: dict[str, list[Listener]] = defaultdict(list)


def on_change(*tables: str) -> Callable[[Listener], Listener]:
    """Decorator: call the function as fn(db, account_ids) when any of `tables` changes.

    account_ids is the list of affected accounts, or None for "could be any".
    """

    def register(fn: Listener) -> Listener:
        for table in tables:
            if fn not in _listeners[table]:
                _listeners[table].append(fn)
        return fn

    return register


def notify(db: Any, table: str, account_ids: Iterable[int] | None = None) -> None:
    load_listeners()  # on the first notice: start-up (the sign-in page) need not import the summaries
    ids = None if account_ids is None else sorted({int(i) for i in account_ids if i is not None})
    for fn in list(_listeners.get(table, [])):
        fn(db, ids)


_loaded = False


def load_listeners() -> None:
    """Import the modules that register listeners (idempotent; `notify` calls it first)."""
    global _loaded
    if _loaded:
        return
    import importlib

    for name in ("crm_core.derived", "crm_core.value", "crm_core.plans", "crm_core.forecast_facts"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _loaded = True
