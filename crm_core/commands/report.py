"""`crm report NAME`: print a report as CSV or JSON, the same numbers as the pages."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from crm_core.cli import acting_user, open_db
from crm_core.errors import CrmError
from crm_core.exporter import safe_frame
from crm_core.forecast_common import METHODS
from crm_core.reports import ReportOptions, all_reports


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (expected YYYY-MM-DD): {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="print a report (funnel, forecast, velocity, plan-vs-actual, value, ...)")
    p.add_argument("name", help="report name; `crm report list` shows them")
    p.add_argument("--by", choices=["owner", "department", "region", "product", "account", "source"])
    p.add_argument("--grain", choices=["month", "quarter", "year"])
    p.add_argument("--period", help="e.g. 2026Q3, 2026-07 or 2026")
    p.add_argument("--from", dest="date_from", type=_date)
    p.add_argument("--to", dest="date_to", type=_date)
    p.add_argument("--today", type=_date, help="compute as of this date (default: today)")
    p.add_argument("--method", choices=list(METHODS),
                   help="forecast: the probability each open deal is weighted by (default: its stage's)")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    reports = all_reports()
    if args.name == "list":
        print("\n".join(sorted(reports)))
        return 0
    if args.name not in reports:
        raise CrmError(f"unknown report {args.name!r}; choose one of: {', '.join(sorted(reports))}")
    db = open_db(args)
    actor = acting_user(db, args)
    opts = ReportOptions(by=args.by, grain=args.grain, period=args.period, date_from=args.date_from,
                         date_to=args.date_to, today=args.today,
                         extra=(("method", args.method),) if getattr(args, "method", None) else ())
    df = reports[args.name](db, actor, opts)
    if args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        # CSV is what people open in Excel: text that would run as a formula is defused.
        sys.stdout.write(safe_frame(df).write_csv())
    return 0
