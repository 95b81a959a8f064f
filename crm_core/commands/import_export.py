"""`crm import` and `crm export`: files in and out from the command line.

    crm import ENTITY FILE [--dry-run] [--mapping NAME] [--map "Col=field,..."] [--save-mapping NAME]
                           [--date-order dmy|mdy] [--stage-map "File stage=Stage,..."] [--create-missing]
                           [--partial] [--rejected-out FILE]
    crm import undo BATCH [--dry-run]
    crm import batches
    crm export TABLE|report:NAME [--format csv|xlsx|parquet] [--out FILE] [--encoding gbk]
"""

from __future__ import annotations

import argparse
import sys
import time

from crm_core import derived, exporter, importer
from crm_core.cli import acting_user, open_db
from crm_core.errors import CrmError, ValidationError
from crm_core.importer import load, mapping
from crm_core.importer.entities import ENTITIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import a CSV/TSV/XLSX file; `crm import undo BATCH` undoes one",
                       description=f"ENTITY is one of: {', '.join(ENTITIES)}; or `undo BATCH`, or `batches`.")
    p.add_argument("entity", help="what the file holds (accounts, opportunities, ...), or undo / batches")
    p.add_argument("file", nargs="?", help="the file (or the batch number for undo)")
    p.add_argument("--dry-run", action="store_true", help="check and show the plan, write nothing")
    p.add_argument("--mapping", help="a saved mapping to apply")
    p.add_argument("--map", help="column mapping overrides: 'File column=field,Other=field'")
    p.add_argument("--save-mapping", help="save the mapping used under this name")
    p.add_argument("--date-order", choices=["dmy", "mdy"], help="day/month order of slashed dates")
    p.add_argument("--stage-map", help="map unknown stages: 'File stage=Configured stage,...'")
    p.add_argument("--set", dest="constants", help="fields the file lacks, one value for all rows: 'grain=quarter'")
    p.add_argument("--create-missing", action="store_true",
                   help="create unknown stages, accounts, teams and managers the file names")
    p.add_argument("--partial", action="store_true", help="load the valid rows and reject the rest")
    p.add_argument("--rejected-out", help="write the rejected rows (row, column, value, reason) to this CSV")
    p.set_defaults(func=run_import)

    p = sub.add_parser("export", help="export a table or report to CSV (UTF-8 BOM), XLSX or Parquet")
    p.add_argument("what", help=f"a table ({', '.join(sorted(exporter.EXPORTABLE))}, users, ...) or report:NAME")
    p.add_argument("--format", choices=list(exporter.FORMATS), default=None)
    p.add_argument("--out", help="output file (default: standard output, CSV only)")
    p.add_argument("--encoding", default="utf-8-sig", help="CSV encoding: utf-8-sig (default) or gbk")
    p.set_defaults(func=run_export)


def _pairs(text: str | None) -> dict[str, str]:
    return {k: v for k, v in mapping.as_dict(text).items() if v} if text else {}


def run_import(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    if args.entity == "batches":
        print(load.batches(db, actor).write_csv(), end="")
        return 0
    if args.entity == "undo":
        if not args.file or not args.file.isdigit():
            raise ValidationError("Usage: crm import undo BATCH (the batch number from `crm import batches`).")
        done = importer.undo(db, actor, int(args.file), dry_run=args.dry_run)
        verb = "Would delete" if args.dry_run else "Deleted"
        print(f"{verb} {sum(done['deleted'].values()):,} created row(s) {done['deleted']} and restored "
              f"{sum(done['restored'].values()):,} updated row(s) {done['restored']} of batch {args.file}.")
        return 0
    if not args.file:
        raise ValidationError("Usage: crm import ENTITY FILE (see crm import --help).")
    given: dict[str, str | None] | str | None = args.mapping
    if args.map:
        given = {**(mapping.load(db, args.mapping, importer.get_entity(args.entity)) if args.mapping else {}),
                 **mapping.as_dict(args.map)}
    started = time.perf_counter()

    def progress(fraction: float, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{what:<10} {fraction:>4.0%}", end="", file=sys.stderr, flush=True)

    try:
        result = importer.import_file(
            db, actor, args.entity, args.file, dry_run=args.dry_run, mapping=given, date_order=args.date_order,
            stage_map=_pairs(args.stage_map), create_missing=args.create_missing, allow_partial=args.partial,
            mapping_name=args.mapping, progress=progress, constants=_pairs(args.constants))
    except importer.ImportRejected as exc:
        _write_rejected(args, exc.result)
        raise
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(_summary(result, time.perf_counter() - started))
    if result.summaries_pending:
        took = derived.refresh_all(db)
        print(f"  summaries updated in {sum(took.values()):.2f} s ("
              + ", ".join(f"{name} {s:.2f} s" for name, s in took.items()) + ")")
    _write_rejected(args, result)
    if args.save_mapping:
        mapping.save(db, actor, args.save_mapping, importer.get_entity(args.entity), result.mapping)
        print(f"Mapping saved as {args.save_mapping!r}.")
    return 0


def _summary(r: importer.ImportResult, seconds: float) -> str:
    head = "Dry run (nothing written)" if r.dry_run else f"Imported as batch {r.batch_id}"
    lines = [f"{head}: {r.file_name} as {r.entity}, {r.rows_total:,} rows in {seconds:.2f} s",
             f"  create {r.created:,}, update {r.updated:,}, unchanged {r.unchanged:,}, rejected {r.rejected:,}"]
    mapped = ", ".join(f"{h} -> {t}" for h, t in r.mapping.items() if t)
    lines.append(f"  mapping: {mapped}")
    if r.unmapped:
        lines.append(f"  unmapped columns: {', '.join(r.unmapped)}")
    if r.also_created:
        lines.append(f"  also created: {', '.join(f'{n} {t}' for t, n in r.also_created.items())}")
    lines += [f"  note: {n}" for n in r.notes]
    if r.rejected_rows is not None and r.rejected_rows.height:
        for row in r.rejected_rows.head(10).iter_rows(named=True):
            lines.append(f"  row {row['row']}, {row['column']!r} = {row['value']!r}: {row['reason']}")
        if r.rejected_rows.height > 10:
            lines.append(f"  … {r.rejected_rows.height - 10:,} more problems (use --rejected-out FILE)")
    return "\n".join(lines)


def _write_rejected(args: argparse.Namespace, r: importer.ImportResult) -> None:
    if args.rejected_out and r.rejected_rows is not None:
        exporter.write(r.rejected_rows, args.rejected_out, "csv")
        print(f"Rejected rows written to {args.rejected_out}.", file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    if args.what.startswith("report:"):
        from crm_core.reports import ReportOptions, all_reports

        name = args.what.split(":", 1)[1]
        reports = all_reports()
        if name not in reports:
            raise CrmError(f"unknown report {name!r}; choose one of: {', '.join(sorted(reports))}")
        df = reports[name](db, actor, ReportOptions())
    else:
        df = exporter.table(db, actor, args.what)
    fmt = args.format or (args.out.rsplit(".", 1)[-1].lower() if args.out and "." in args.out else "csv")
    if args.out:
        n = exporter.write(df, args.out, fmt, encoding=args.encoding)
        print(f"Wrote {n:,} rows to {args.out}.", file=sys.stderr)
    else:
        if fmt != "csv":
            raise ValidationError(f"{fmt} output needs --out FILE.")
        sys.stdout.buffer.write(exporter.to_bytes(df, "csv", encoding=args.encoding))
    return 0
