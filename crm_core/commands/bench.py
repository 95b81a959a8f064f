"""`crm bench [--scale small|100k|1m] [--json FILE]`: measure speed against the budgets.

Works in its own temporary database (removed afterwards), never the app's.
Prints a table with each figure, its budget and pass/fail; `--json` also
writes the full result. Exit status 0 even when budgets fail: the figures are
the output (CI only checks that the run is complete).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crm_core.errors import CrmError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="generate synthetic data in a temp database and measure speed vs budgets")
    p.add_argument("--scale", choices=["small", "100k", "1m"], default="small",
                   help="small (demo size, < 30 s), 100k or 1m opportunities")
    p.add_argument("--json", dest="json_path", help="also write the full result as JSON to this file")
    p.add_argument("--tmp", help="directory for the temporary database (default: the system temp dir)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--generate-into", metavar="FILE",
                   help="only generate the synthetic data into FILE (a new database) and stop, to try pages on it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crm_core import bench

    if args.json_path:
        parent = Path(args.json_path).resolve().parent
        if not parent.is_dir():
            raise CrmError(f"Cannot write {args.json_path}: the directory {parent} does not exist.")
    if args.tmp and not Path(args.tmp).is_dir():
        raise CrmError(f"--tmp {args.tmp} is not a directory.")

    if args.generate_into:
        return _generate_only(args.generate_into, args.scale)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    result = bench.run(args.scale, workdir=args.tmp, progress=progress)
    print(bench.format_table(result))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, default=str)
            fh.write("\n")
    return 0


def _generate_only(path: str, scale: str) -> int:
    import time

    from crm_core.bench_data import generate
    from crm_core.db import Database

    if Path(path).exists():
        raise CrmError(f"{path} already exists; --generate-into writes a new database only.")
    db = Database(path)
    started = time.perf_counter()
    counts = generate(db, scale)
    db.close()
    print(f"Generated {scale} data into {path} in {time.perf_counter() - started:.1f} s:")
    for name, n in counts.items():
        print(f"  {name:<28} {n:>12,}")
    print("Users log in with the demo password: admin, manager1.., rep1.., analyst1.")
    return 0
