"""`crm` / `python -m crm_core`: the command line for analysts and cron.

Core commands live here (init, info). Each feature adds its own subcommands in
a module under `crm_core/commands/` that defines `register(subparsers)`; the
parser picks them up automatically, so features never edit this file.

Every failure meant for users (`CrmError`) prints one line on stderr and exits
with status 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from collections.abc import Sequence

from crm_core import commands, demo, hooks
from crm_core.access import Actor, load_actor
from crm_core.db import Database, default_path
from crm_core.errors import CrmError


def open_db(args: argparse.Namespace, *, migrate: bool = True) -> Database:
    return Database(args.db or default_path(), migrate=migrate)


def acting_user(db: Database, args: argparse.Namespace) -> Actor:
    """The actor for this command: `--user LOGIN` (with CRM_PASSWORD when set), else the system actor."""
    login = getattr(args, "user", None) or os.environ.get("CRM_USER")
    if not login:
        return Actor.system()
    password = os.environ.get("CRM_PASSWORD")
    if password is not None:
        from crm_core.auth import authenticate

        return authenticate(db, login, password)
    return load_actor(db, login)


def _cmd_init(args: argparse.Namespace) -> int:
    path = args.db or default_path()
    if os.path.exists(path):
        if not args.force:
            raise CrmError(f"{path} already exists. Use --force to replace it (its data is deleted).")
        Database(path, migrate=False).close()  # refuses clearly if another process holds it
        os.remove(path)
        if os.path.exists(path + ".wal"):
            os.remove(path + ".wal")
    db = Database(path)
    started = time.perf_counter()
    if args.demo:
        counts = demo.generate(db, seed=args.seed)
        print(f"Created {path} with demo data (seed {args.seed}) in {time.perf_counter() - started:.2f} s:")
        for name, n in sorted(counts.items()):
            print(f"  {name:<28} {n:>9,}")
        print(f"Demo users log in with password {demo.DEMO_PASSWORD!r}: admin, manager1..3, rep1..19, analyst1..2.")
    else:
        print(f"Created empty database {path} (schema version {db.schema_version()}).")
    db.close()
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    db = open_db(args)
    counts = db.table_counts()
    if args.format == "json":
        print(json.dumps({"path": db.path, "schema_version": db.schema_version(), "tables": counts}))
    else:
        print(f"Database {db.path}, schema version {db.schema_version()}")
        for name, n in counts.items():
            print(f"  {name:<28} {n:>12,}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description="Panorama sales dashboard: command line.")
    parser.add_argument("--db", help="database file (default: $CRM_DB_PATH or data/crm.duckdb)")
    parser.add_argument("--user", help="act as this login (password from $CRM_PASSWORD); default: system")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the database (empty, or with --demo data)")
    p.add_argument("--demo", action="store_true", help="fill it with the demo sales team")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("info", help="print row counts of every table")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_cmd_info)

    for mod in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"crm_core.commands.{mod.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    hooks.load_listeners()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CrmError as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
