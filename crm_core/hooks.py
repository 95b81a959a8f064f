"""Change notifications between modules, so that derived data stays current.

A module that keeps derived data (e.g. the account value summary) registers a
listener for the tables it derives from; every writer (forms, imports, undo,
merges) calls `notify(db, table, account_ids)` after its transaction commits.
Listeners must be idempotent: they recompute from the source tables.
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
    ids = None if account_ids is None else sorted({int(i) for i in account_ids if i is not None})
    for fn in list(_listeners.get(table, [])):
        fn(db, ids)


def load_listeners() -> None:
    """Import the modules that register listeners (call once at start-up)."""
    import importlib

    for name in ("crm_core.value", "crm_core.plans", "crm_core.forecast_facts"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
