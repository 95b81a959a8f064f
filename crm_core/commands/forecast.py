"""`crm forecast snapshot` (for cron) and `crm forecast rebuild`."""

from __future__ import annotations

import argparse

from crm_core import forecast_facts, forecast_snapshots
from crm_core.cli import acting_user, open_db
from crm_core.commands.report import _date
from crm_core.forecast_common import METHODS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="forecast maintenance: snapshot (for cron), rebuild")
    fsub = p.add_subparsers(dest="forecast_command", required=True)
    s = fsub.add_parser("snapshot", help="store the forecast as it stands, for the accuracy view")
    s.add_argument("--method", choices=METHODS, default="stage", help="probability source (default: stage)")
    s.add_argument("--today", type=_date, help="compute as of this date (default: today)")
    s.set_defaults(func=_snapshot)
    r = fsub.add_parser("rebuild", help="recompute the per-deal funnel facts from stage history")
    r.set_defaults(func=_rebuild)


def _snapshot(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    n = forecast_snapshots.take_snapshot(db, actor, method=args.method, today=args.today)
    print(f"Stored a forecast snapshot ({args.method}): {n} rows.")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    db = open_db(args)
    n = forecast_facts.rebuild(db)
    print(f"Rebuilt the funnel facts of {n} deals.")
    return 0
