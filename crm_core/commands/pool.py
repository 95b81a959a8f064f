"""`crm pool sweep` and `crm pool assign`: the public pool's maintenance for cron and admins.

`sweep` returns accounts without follow-up for `pool.return_after_days` days
to the pool; `assign` places new unowned leads by the assignment rules. Both
print one line per account and a summary.
"""

from __future__ import annotations

import argparse

from crm_core import lifecycle, pool
from crm_core.cli import acting_user, open_db
from crm_core.commands.report import _date


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pool", help="public pool: sweep neglected accounts back, assign new leads")
    cmds = p.add_subparsers(dest="pool_command", required=True)
    s = cmds.add_parser("sweep", help="return accounts without follow-up for N days to the pool")
    s.add_argument("--today", type=_date, help="sweep as of this date (default: today)")
    s.add_argument("--lifecycle", action="store_true", help="also update lifecycle stages")
    s.set_defaults(func=_sweep)
    a = cmds.add_parser("assign", help="place new unowned leads by the assignment rules")
    a.add_argument("--account", type=int, action="append", help="only this pool account (repeatable)")
    a.set_defaults(func=_assign)


def _sweep(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    ids = pool.sweep(db, actor, today=args.today)
    for i in ids:
        print(f"returned account {i}")
    print(f"{len(ids)} account(s) returned to the pool.")
    if args.lifecycle:
        moved = lifecycle.update_all(db, actor, today=args.today)
        print("lifecycle: " + (", ".join(f"{k} {v}" for k, v in sorted(moved.items())) or "no changes"))
    db.close()
    return 0


def _assign(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    done = pool.assign(db, actor, account_ids=args.account)
    for d in done:
        print(f"account {d['account_id']} ({d['account']}) -> {d['user']} (rule {d['rule']})")
    print(f"{len(done)} lead(s) assigned.")
    db.close()
    return 0
