"""Exports of tables and reports to CSV, XLSX and Parquet that spreadsheets cannot turn against the user.

CSV is UTF-8 with a BOM by default so Excel detects the encoding (GBK on
request for older Chinese Excel). Text cells that start with = + - @, a tab or
a carriage return are prefixed with an apostrophe, so a spreadsheet shows them
as text instead of running them as formulas (CSV injection). Parquet keeps the
data as it is: it is read by programs, not spreadsheets.

Every table export applies the same row rules as the pages: a rep exports only
their own accounts and deals, a manager their team's.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from crm_core.access import Actor, owner_scope, require_role
from crm_core.db import Database, quote_ident
from crm_core.errors import ValidationError

FORMATS = ("csv", "xlsx", "parquet")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

# table -> the owner column that limits what a non-admin may export (None: visible to every role)
EXPORTABLE: dict[str, str | None] = {
    "accounts": "t.owner_id", "opportunities": "t.owner_id", "orders": "t.owner_id",
    "contracts": "t.owner_id", "activities": "t.owner_id", "targets": "t.owner_id",
    "contacts": "(SELECT a.owner_id FROM accounts a WHERE a.id = t.account_id)",
    "payments": "(SELECT c.owner_id FROM contracts c WHERE c.id = t.contract_id)",
    "stage_history": "(SELECT o.owner_id FROM opportunities o WHERE o.id = t.opportunity_id)",
    "products": None, "stages": None, "departments": None,
}
ADMIN_ONLY = {"audit_log": ("admin",), "import_batches": ("admin", "analyst")}
HIDDEN_COLUMNS = {"users": ("password_hash", "failed_logins", "locked_until")}


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def safe_frame(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every text column neutralised (vectorised)."""
    flat = []
    for name, dtype in df.schema.items():  # spreadsheets hold no lists: tags become "a; b"
        if isinstance(dtype, (pl.List, pl.Array)):
            flat.append(pl.col(name).list.eval(pl.element().cast(pl.Utf8)).list.join("; ").alias(name))
        elif isinstance(dtype, pl.Struct):
            flat.append(pl.col(name).struct.json_encode().alias(name))
    if flat:
        df = df.with_columns(flat)
    exprs = []
    for name, dtype in df.schema.items():
        if dtype == pl.Utf8:
            col = pl.col(name)
            exprs.append(pl.when(col.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + col).otherwise(col).alias(name))
    return df.with_columns(exprs) if exprs else df


def to_bytes(df: pl.DataFrame, fmt: str = "csv", *, encoding: str = "utf-8-sig") -> bytes:
    """The file content of `df` in `fmt` (csv / xlsx / parquet)."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValidationError(f"Unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}.",
                              field="format", value=fmt)
    if fmt == "parquet":
        buf = io.BytesIO()
        df.write_parquet(buf)
        return buf.getvalue()
    safe = safe_frame(df)
    if fmt == "csv":
        text = safe.write_csv()
        enc = {"utf8": "utf-8-sig", "utf-8": "utf-8-sig", "gbk": "gb18030", "gb18030": "gb18030"}.get(
            encoding.lower(), encoding)
        try:
            return text.encode(enc)
        except (UnicodeEncodeError, LookupError) as exc:
            raise ValidationError(f"The data cannot be written as {encoding}: {exc}. Use UTF-8.",
                                  field="encoding", value=encoding) from None
    return _xlsx(safe)


XLSX_MAX_ROWS = 1_048_575   # Excel's sheet limit, less the header row


def _xlsx(df: pl.DataFrame) -> bytes:
    import xlsxwriter

    if df.height > XLSX_MAX_ROWS:
        raise ValidationError(f"{df.height:,} rows do not fit in an Excel sheet (at most {XLSX_MAX_ROWS:,}): "
                              "export as CSV or Parquet.", field="format", value="xlsx")

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    ws = wb.add_worksheet("data")
    bold = wb.add_format({"bold": True})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ts_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for j, name in enumerate(df.columns):
        ws.write_string(0, j, str(name), bold)
    for i, row in enumerate(df.iter_rows(), start=1):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, bool):
                ws.write_boolean(i, j, v)
            elif isinstance(v, (int, float, Decimal)):
                ws.write_number(i, j, float(v))
            elif isinstance(v, datetime):
                ws.write_datetime(i, j, v.replace(tzinfo=None), ts_fmt)
            elif isinstance(v, date):
                ws.write_datetime(i, j, datetime(v.year, v.month, v.day), date_fmt)
            else:
                ws.write_string(i, j, v if isinstance(v, str) else str(v))
    wb.close()
    return buf.getvalue()


def write(df: pl.DataFrame, path: str | Path, fmt: str | None = None, *, encoding: str = "utf-8-sig") -> int:
    """Write `df` to `path` (format from the suffix unless given); returns the rows written."""
    fmt = fmt or Path(path).suffix.lstrip(".").lower() or "csv"
    Path(path).write_bytes(to_bytes(df, fmt, encoding=encoding))
    return df.height


def table(db: Database, actor: Actor, name: str, *, limit: int | None = None) -> pl.DataFrame:
    """The rows of table `name` the actor may see."""
    if name in ADMIN_ONLY:
        require_role(actor, ADMIN_ONLY[name], f"export {name}")
        scope, params = "TRUE", []
    elif name == "users":
        scope, params = owner_scope(actor, "t.id")
    elif name in EXPORTABLE:
        col = EXPORTABLE[name]
        scope, params = owner_scope(actor, col, include_pool=name in ("accounts", "contacts")) if col else ("TRUE", [])
    else:
        choices = sorted([*EXPORTABLE, "users", *ADMIN_ONLY])
        raise ValidationError(f"Cannot export {name!r}: expected one of {', '.join(choices)}.", field="table",
                              value=name)
    hidden = HIDDEN_COLUMNS.get(name, ())
    cols = "*" + (f" EXCLUDE ({', '.join(quote_ident(c) for c in hidden)})" if hidden else "")
    lim = f" LIMIT {int(limit)}" if limit else ""
    order = "ORDER BY t.id" if name not in ("audit_log",) else "ORDER BY t.id DESC"
    return db.query(f"SELECT t.{cols} FROM {quote_ident(name)} t WHERE {scope} {order}{lim}", params)


def exportable_tables(actor: Actor) -> list[str]:
    names = [*EXPORTABLE, "users"]
    names += [t for t, roles in ADMIN_ONLY.items() if actor.role in roles]
    return sorted(names)
