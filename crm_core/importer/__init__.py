"""Importing CSV, TSV and Excel files: read, map, check, diff, load all-or-nothing, undo.

The one entry point is `import_file(db, actor, entity, path, ...)`; the page,
the command line and the benchmark all call it. A dry run returns the plan
(rows to create, update, leave unchanged, reject) and writes nothing. A real
run writes in one transaction: by default nothing at all if any row is
rejected (`ImportRejected`), or only the valid rows with `allow_partial=True`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from crm_core import settings
from crm_core.access import Actor, require_role
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.importer import load, plan, reading
from crm_core.importer import mapping as mapping_mod
from crm_core.importer.entities import ENTITIES, Entity, get_entity
from crm_core.importer.plan import Options
from crm_core.importer.values import AmbiguousDates

__all__ = ["ENTITIES", "AmbiguousDates", "ImportRejected", "ImportResult", "Options", "import_file",
           "read_headers", "undo"]


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    entity: str
    file_name: str
    dry_run: bool
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    batch_id: int | None = None
    mapping: dict[str, str | None] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected_rows: pl.DataFrame | None = None      # row, column, value, reason
    preview: pl.DataFrame | None = None            # the first rows as they will be stored
    samples: dict[str, pl.DataFrame] = field(default_factory=dict)   # action -> its first rows
    to_create: dict[str, list[str]] = field(default_factory=dict)    # field -> referenced values to create
    unknown: dict[str, list[str]] = field(default_factory=dict)      # field -> values that match nothing
    also_created: dict[str, int] = field(default_factory=dict)       # table -> referenced rows created
    date_order: str | None = None
    seconds: float = 0.0
    summaries_pending: bool = False      # summaries told "any account": `derived.refresh_all` brings them up

    @property
    def counts(self) -> dict[str, int]:
        return {"rows": self.rows_total, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected}

    @property
    def written(self) -> int:
        return 0 if self.dry_run else self.created + self.updated


class ImportRejected(ValidationError):
    """Some rows were rejected and the user asked for all-or-nothing: nothing was written."""

    def __init__(self, message: str, result: ImportResult):
        super().__init__(message)
        self.result = result


def read_headers(path: str | Path, file_name: str | None = None) -> reading.Source:
    """Inspect a file (encoding, delimiter, header) without importing it."""
    src = reading.open_source(path, file_name)
    src.cleanup()
    return src


def _max_mb(db: Database) -> float:
    try:
        return float(settings.get(db, "import.max_file_mb") or reading.DEFAULT_MAX_MB)
    except (TypeError, ValueError):
        return reading.DEFAULT_MAX_MB


def import_file(db: Database, actor: Actor, entity: str, path: str | Path, dry_run: bool = False,
                mapping: dict[str, str | None] | str | None = None, *, file_name: str | None = None,
                options: Options | None = None, **kw: Any) -> ImportResult:
    """Import `path` as `entity` (e.g. "opportunities"); see the module docstring.

    `mapping` is {file header: field} (None skips a column), or the name of a
    saved mapping; columns it does not name are mapped by header aliases.
    Options (or keyword arguments of the same names): date_order ('dmy'/'mdy'),
    stage_map {file stage: configured stage}, create_missing, allow_partial,
    progress(fraction, text). Returns an ImportResult with counts.
    """
    require_role(actor, ("admin", "analyst"), "import data")
    opts = options or Options(**kw)
    ent: Entity = get_entity(entity)
    started = time.perf_counter()
    if isinstance(mapping, str):
        opts.mapping_name = mapping
        mapping = mapping_mod.load(db, mapping, ent)
    opts.tick(0.02, "reading")
    plan.register_functions(db)
    src = reading.open_source(path, file_name, max_mb=_max_mb(db))
    try:
        resolved = mapping_mod.resolve(ent, src.headers, mapping)
        result = ImportResult(entity=ent.name, file_name=src.file_name, dry_run=dry_run, mapping=resolved,
                              unmapped=[h for h, t in resolved.items() if not t], notes=list(src.notes))
        if dry_run:
            with db.cursor() as cur:
                try:
                    _run(cur, src, ent, resolved, opts, result)
                finally:
                    _drop_temp(cur)
        else:
            try:
                with db.atomic() as cur:
                    try:
                        _run(cur, src, ent, resolved, opts, result, actor=actor, started=started)
                    finally:
                        _drop_temp(cur)
            except duckdb.ConstraintException as exc:
                # a rule the checks above missed: still nothing written, and said plainly
                raise ValidationError(f"{src.file_name}: the database refused the rows ({exc}); nothing was "
                                      "imported.") from None
            result.summaries_pending = load.notify_changes(db, [ent.table, *result.also_created], result.batch_id)
    finally:
        src.cleanup()
    result.seconds = time.perf_counter() - started
    opts.tick(1.0, "done")
    return result


def _run(cur: Any, src: reading.Source, ent: Entity, resolved: dict[str, str | None], opts: Options,
         result: ImportResult, *, actor: Actor | None = None, started: float = 0.0) -> None:
    result.rows_total = reading.load_raw(cur, src, plan.RAW)
    _add_constants(cur, src, ent, resolved, opts)
    opts.tick(0.3, "checking")
    lazy = actor is not None
    st = plan.stage(cur, src, ent, resolved, opts, lazy=lazy)
    result.date_order = st.date_order
    result.to_create, result.unknown = st.to_create, st.unknown
    batch = None
    if actor is not None and st.to_create:
        # rows the user asked us to create are written first, then the file is checked again against them
        batch = load.start_batch(cur, actor, ent, src.file_name, opts.mapping_name)
        result.also_created = load.create_missing(cur, actor, ent, st, batch)
        st = plan.stage(cur, src, ent, resolved, opts, lazy=lazy)
    got = plan.counts(cur)
    _fill(result, got)
    _describe(cur, ent, src, st, opts, result)
    if actor is None:
        return
    if got["rejected"] and not opts.allow_partial:
        raise ImportRejected(
            f"{src.file_name}: {got['rejected']:,} of {result.rows_total:,} rows rejected, so nothing was imported "
            f"(all-or-nothing). {summarise_rejections(result.rejected_rows)} "
            "Fix the file, or choose to load the valid rows and reject the rest.", result)
    if batch is None:
        batch = load.start_batch(cur, actor, ent, src.file_name, opts.mapping_name)
    load.commit(cur, actor, src, ent, st, opts, batch, got)
    result.batch_id = batch
    load.finish_batch(cur, actor, ent, batch, got, result.rows_total, result.also_created, result.notes,
                      time.perf_counter() - started)


def summarise_rejections(rejected: pl.DataFrame | None, groups: int = 3) -> str:
    """The commonest problems, each with its first rows: 'Row 2, column X, value Y: reason (and 34 more rows).'"""
    if rejected is None or rejected.height == 0:
        return ""
    parts = []
    by = rejected.group_by(["column", "reason"], maintain_order=True).agg(
        pl.col("row").first().alias("row"), pl.col("value").first().alias("value"), pl.len().alias("n"))
    for g in by.sort("n", descending=True, maintain_order=True).head(groups).iter_rows(named=True):
        more = f" (and {g['n'] - 1:,} more rows like it)" if g["n"] > 1 else ""
        value = "(blank)" if g["value"] is None else repr(g["value"])
        parts.append(f"Row {g['row']}, column {g['column']!r}, value {value}: {g['reason']}{more}.")
    if by.height > groups:
        parts.append(f"{by.height - groups} other kind(s) of problem.")
    return " ".join(parts)


def _add_constants(cur: Any, src: reading.Source, ent: Entity, resolved: dict[str, str | None],
                   opts: Options) -> None:
    """Fields the file lacks, given one value for every row (grain=quarter): an extra raw column each."""
    for fname, value in opts.constants.items():
        if fname not in ent.field_names:
            raise ValidationError(f"Cannot set {fname!r}: not a field of {ent.label.lower()}; expected one of "
                                  f"{', '.join(ent.field_names)}.", field=fname, value=value)
        for h, t in list(resolved.items()):
            if t == fname:
                resolved[h] = None
        src.constants.append((f"c{len(src.headers)}", value))
        header = f"{fname} (set to {value})"
        src.headers.append(header)
        reading.define_raw(cur, src, plan.RAW)
        resolved[header] = fname


def _fill(result: ImportResult, got: dict[str, int]) -> None:
    result.created, result.updated = got["create"], got["update"]
    result.unchanged, result.rejected = got["unchanged"], got["rejected"]


def _describe(cur: Any, ent: Entity, src: reading.Source, st: plan.Staged, opts: Options,
              result: ImportResult) -> None:
    """Preview, per-action samples, rejected rows and the quirks worth telling the user."""
    result.preview = plan.rows_of(cur, ent, src, st, None, opts.preview_rows)
    if result.dry_run:  # the per-action rows are for deciding; after a load the counts and preview say it
        for action in ("create", "update", "unchanged", "rejected"):
            result.samples[action] = plan.rows_of(cur, ent, src, st, action, 200)
    result.rejected_rows = plan.rejected_rows(cur, ent, src, st, opts.max_rejected if result.rejected else 0)
    for fname, vals in st.unknown.items():
        shown = ", ".join(repr(v) for v in vals[:5]) + (" …" if len(vals) > 5 else "")
        result.notes.append(f"{st.missing_counts.get(fname, len(vals)):,} value(s) of {st.headers[fname]!r} match no existing {fname}: {shown}.")
    for fname, vals in st.to_create.items():
        result.notes.append(f"{st.missing_counts.get(fname, len(vals)):,} new {fname} value(s) will be created "
                            f"from {st.headers[fname]!r}.")
    for fname, blank in st.blank_counts.items():
        if blank:
            result.notes.append(f"{blank:,} row(s) have no {st.headers[fname]!r} (left empty).")
    for f in ent.fields:  # references found under another spelling ('GTXPro' is the product 'GTX Pro')
        if f.kind == "ref" and f.name in st.mapped and f.ref in ("product", "account", "user", "stage"):
            label = {"product": "name", "account": "name", "user": "display_name", "stage": "name"}[f.ref]
            table = plan.LOOKUPS[f.ref]["table"]
            alt = cur.execute(
                f"SELECT DISTINCT lk.v, t.{label} FROM _imp_lk_{f.name} lk JOIN {table} t ON t.id = lk.id "
                f"WHERE lk.v <> t.{label} AND lower(lk.v) <> lower(t.{label}) "
                f"AND lk.v IS DISTINCT FROM t.{'login' if f.ref == 'user' else 'name'} "
                f"{'AND lk.v IS DISTINCT FROM t.external_id' if f.ref in ('product', 'account') else ''} "
                "ORDER BY 1 LIMIT 5").fetchall()
            if alt and f.ref != "user":
                shown = ", ".join(f"{a!r} as {b!r}" for a, b in alt)
                result.notes.append(f"{st.headers[f.name]!r} values matched under another spelling: {shown}.")
    for f in ent.fields:
        if f.kind == "amount" and f.name in st.mapped and f.target:
            zero = cur.execute(f"SELECT count(*) FROM {plan.STG} WHERE o_{f.target} = 0").fetchall()[0][0]
            if zero:
                result.notes.append(f"{zero:,} row(s) have {st.headers[f.name]!r} = 0.")
    if not st.key_alts and result.rows_total <= 5_000_000:
        cols = ", ".join(f"c{i}" for i in range(len(src.headers)))
        copies = cur.execute(f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {plan.RAW} "
                             f"GROUP BY {cols} HAVING count(*) > 1)").fetchall()[0][0]
        if copies:
            result.notes.append(f"{copies:,} row(s) are exact copies of an earlier row (kept: rows have no id "
                                "to tell them apart).")
    if ent.notes_column and ent.notes_column not in st.mapped and result.unmapped:
        result.notes.append(f"Unmapped columns are kept in {ent.notes_column} as 'column: value': "
                            f"{', '.join(result.unmapped)}.")
    if st.date_order:
        result.notes.append(f"Dates read as {'day/month/year' if st.date_order == 'dmy' else 'month/day/year'}.")


def _drop_temp(cur: Any) -> None:
    """Drop the staging tables and views (after a failed transaction they are gone already)."""
    try:
        plan.drop_temp_objects(cur, keep=(reading.ARROW, reading.PICK))  # the registered cells go with drop_raw
    except Exception:  # duckdb.Error: an aborted transaction; the rollback removes them
        pass
    reading.drop_raw(cur)


def undo(db: Database, actor: Actor, batch_id: int, *, dry_run: bool = False) -> dict[str, Any]:
    return load.undo(db, actor, batch_id, dry_run=dry_run)
