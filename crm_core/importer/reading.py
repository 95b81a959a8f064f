"""Reading an uploaded file into DuckDB as text, with the file's quirks found first.

We decide the encoding, delimiter and header row ourselves from the first
256 KB (DuckDB's sniffer can silently read a bad file as one column), then let
DuckDB parse the whole file strictly with those settings, every value as
VARCHAR. Typed conversion happens later in SQL (`values.py`), so a bad value is
reported with its row and column instead of failing the whole read.

Encodings: UTF-8 with or without BOM is read by DuckDB directly; GBK/GB18030
and UTF-16 (Excel's "Unicode text") are transcoded to a temporary UTF-8 copy.
Excel files (.xlsx/.xlsm/.xls) are read with python-calamine.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crm_core.errors import ValidationError
from crm_core.importer.values import lit

DEFAULT_MAX_MB = 512
HEAD_BYTES = 256 * 1024
MAX_FIELD_BYTES = 1_000_000  # DuckDB's max_line_size; a longer line is a broken or hostile file
DELIMITERS = [",", ";", "\t", "|"]
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NUMBERISH = re.compile(r"^[\s$¥€£+\-]*[\d.,]+%?\s*$|^\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,4}日?([ T].*)?$")


@dataclass
class Source:
    """A file ready for DuckDB: where to read it and how, plus what we noticed."""

    file_name: str
    kind: str                      # "csv" or "xlsx"
    headers: list[str]             # the file's own column names (or column_1.. when it has none)
    path: str | None = None        # UTF-8 text DuckDB reads (csv)
    delimiter: str = ","
    skip: int = 0                  # lines before the header (a title line) or before the data
    has_header: bool = True
    encoding: str = "utf-8"
    rows: list[list[str]] | None = None   # xlsx cells as text
    notes: list[str] = field(default_factory=list)
    temp_path: str | None = None   # a transcoded copy to delete afterwards
    raw_base: str = ""             # what the raw view reads: the registered Arrow cells or a temp table
    raw_row: str = "_r"            # the row position in raw_base
    constants: list[tuple[str, str]] = field(default_factory=list)   # (column, value) added after the file's
    cells: Any = field(default=None, repr=False)   # the polars/Arrow table behind raw_base, when it is one

    @property
    def first_data_row(self) -> int:
        """The 1-based line number of the first data row (what a spreadsheet shows)."""
        return self.skip + (2 if self.has_header else 1)

    def cleanup(self) -> None:
        if self.temp_path and os.path.exists(self.temp_path):
            os.remove(self.temp_path)


def open_source(path: str | os.PathLike, file_name: str | None = None, *, max_mb: float = DEFAULT_MAX_MB) -> Source:
    """Inspect `path` and return how to read it; raise ValidationError saying why not."""
    p = Path(path)
    name = file_name or p.name
    if not p.exists():
        raise ValidationError(f"{name}: the file does not exist.")
    size = p.stat().st_size
    if size == 0:
        raise ValidationError(f"{name} is empty (0 bytes): expected a header row and at least one data row.")
    if size > max_mb * 1024 * 1024:
        raise ValidationError(
            f"{name} is {size / 1024 / 1024:,.1f} MB, over the upload limit of {max_mb:,.0f} MB "
            "(setting import.max_file_mb). Split the file or ask an admin to raise the limit."
        )
    with open(p, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    suffix = p.suffix.lower() if p.suffix else Path(name).suffix.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0") or suffix in (".xlsx", ".xlsm", ".xls"):
        return _open_excel(p, name)
    encoding, text_head = _decode_head(head, name, complete=size <= HEAD_BYTES)
    src = _inspect_text(text_head, name, complete=size <= HEAD_BYTES)
    src.encoding = encoding
    if encoding in ("utf-8", "utf-8-sig"):
        src.path = str(p)
    else:
        src.temp_path = src.path = _transcode(p, encoding, name)
        src.notes.append(f"Read as {encoding.upper()} text.")
    return src


# -- encodings -----------------------------------------------------------------
def _decode_head(head: bytes, name: str, *, complete: bool) -> tuple[str, str]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", _decode_prefix(head, "utf-8-sig", name, complete)
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", _decode_prefix(head, "utf-16", name, complete)
    # UTF-16 without a BOM: every other byte of ASCII text is zero
    sample = head[:2000]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) / 4 and sample[0::2].count(0) < len(sample) / 20:
        return "utf-16-le", _decode_prefix(head, "utf-16-le", name, complete)
    if b"\x00" in head:
        raise ValidationError(
            f"{name} is not a text file (it contains binary data, byte 0x00 at position {head.index(0)}): "
            "expected CSV/TSV text or an Excel .xlsx workbook."
        )
    try:
        return "utf-8", _decode_prefix(head, "utf-8", name, complete, strict=True)
    except UnicodeDecodeError as exc:
        before = head[:exc.start]
        if any(b >= 0x80 for b in before):
            # valid UTF-8 text with non-ASCII characters, then bytes that are not: two encodings in one file
            line = before.count(b"\n") + 1
            raise ValidationError(
                f"{name}: line {line} is not UTF-8 although the lines before it are (byte 0x{head[exc.start]:02x}); "
                "the file mixes encodings. Expected one encoding in the whole file: save it again as UTF-8."
            ) from None
    try:
        return "gb18030", _decode_prefix(head, "gb18030", name, complete, strict=True)
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{name}: cannot tell the text encoding (byte 0x{head[exc.start]:02x} at position {exc.start} is "
            "neither UTF-8 nor GBK): expected UTF-8, GBK/GB18030 or UTF-16 text."
        ) from None


def _decode_prefix(head: bytes, encoding: str, name: str, complete: bool, strict: bool = False) -> str:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        if strict:
            raise
        raise ValidationError(f"{name}: the text is not valid {encoding.upper()}.") from None


def _transcode(p: Path, encoding: str, name: str) -> str:
    """Copy a non-UTF-8 file to a temporary UTF-8 file, naming the line of a bad byte."""
    fd, out = tempfile.mkstemp(suffix=".csv", prefix="crm_import_")
    line = 1
    try:
        with open(p, encoding=encoding, newline="", errors="strict") as src, os.fdopen(fd, "w", encoding="utf-8",
                                                                                         newline="") as dst:
            while True:
                try:
                    chunk = src.read(1 << 20)
                except UnicodeDecodeError as exc:
                    raise ValidationError(
                        f"{name}: line {line} or just after it is not valid {encoding.upper()} text "
                        f"(byte 0x{exc.object[exc.start]:02x}); the file mixes encodings. "
                        "Save it again with one encoding (UTF-8 is best)."
                    ) from None
                if not chunk:
                    break
                line += chunk.count("\n")
                dst.write(chunk.lstrip("\ufeff") if line == 1 else chunk)
    except BaseException:
        os.remove(out)
        raise
    return out


# -- delimiter and header ----------------------------------------------------------
def _split(lines: list[str], delim: str) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim, quotechar='"', strict=False))
    except csv.Error:
        return [ln.split(delim) for ln in lines]


def _inspect_text(text: str, name: str, *, complete: bool) -> Source:
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    if len(lines) > 200:
        lines = lines[:200]
    if not any(ln.strip() for ln in lines):
        raise ValidationError(f"{name} has no text (only blank lines): expected a header row and data rows.")
    best: tuple[float, str, list[list[str]]] | None = None
    for delim in DELIMITERS:
        rows = [r for r in _split(lines, delim) if any(c.strip() for c in r)]
        counts = [len(r) for r in rows]
        modal, freq = Counter(counts).most_common(1)[0]
        # prefer the delimiter that splits most lines into the same number (>1) of fields
        score = (freq / len(rows)) * (modal > 1) * (1 + min(modal, 50) / 100)
        if best is None or score > best[0]:
            best = (score, delim, rows)
    assert best is not None
    score, delim, rows = best
    if score == 0:
        delim, rows = ",", [r for r in _split(lines, ",") if any(c.strip() for c in r)]
    counts = [len(r) for r in rows]
    modal = Counter(counts).most_common(1)[0][0]
    # the header is the first line with the usual number of fields; lines above it are a title
    idx = next(i for i, r in enumerate(rows) if len(r) == modal)
    raw_lines = [ln for ln in lines if ln.strip()]
    skip = lines.index(raw_lines[idx]) if idx < len(raw_lines) else 0
    cand = [c.strip() for c in rows[idx]]
    has_header = not any(_NUMBERISH.match(c) for c in cand if c)
    src = Source(file_name=name, kind="csv", headers=[], delimiter=delim, skip=skip, has_header=has_header)
    if idx:
        src.notes.append(f"Skipped {skip} line(s) above the header (a title).")
    if has_header:
        src.headers = _clean_headers(cand, name, rows[idx + 1:])
    else:
        src.headers = [f"column_{i + 1}" for i in range(modal)]
        src.notes.append("The file has no header row; columns are named column_1, column_2, ...")
    if modal == 1:
        src.notes.append("The file was read as a single column (no comma, semicolon, tab or pipe separates fields).")
    return src


def _clean_headers(cells: list[str], name: str, data: list[list[str]]) -> list[str]:
    headers: list[str] = []
    for i, h in enumerate(cells):
        h = " ".join(h.replace("\ufeff", "").split())
        if not h:
            has_data = any(i < len(r) and r[i].strip() for r in data)
            if has_data:
                raise ValidationError(
                    f"{name}: column {i + 1} has values but no header (merged or blank header cells?): "
                    "expected a name in every header cell."
                )
            h = f"column_{i + 1}"
        headers.append(h)
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        key = h.casefold()
        if key in seen:
            raise ValidationError(
                f"{name}: the header {h!r} appears twice (columns {seen[key] + 1} and {i + 1}): "
                "expected each column name once."
            )
        seen[key] = i
    return headers


# -- Excel ---------------------------------------------------------------------------
def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ") if (v.hour, v.minute, v.second) != (0, 0, 0) else v.date().isoformat()
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


def _open_excel(p: Path, name: str) -> Source:
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(p))
        sheet = wb.get_sheet_by_index(0)
        merged = None
        try:
            merged = sheet.merged_cell_ranges
        except Exception:  # older calamine / formats without merge info
            merged = None
        raw = sheet.to_python(skip_empty_area=False)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(f"{name} cannot be read as an Excel workbook ({exc.__class__.__name__}): "
                              "expected an .xlsx file saved by Excel, or a CSV file.") from None
    rows = [[_cell_text(c) for c in r] for r in raw]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValidationError(f"{name}: the first sheet is empty: expected a header row and data rows.")
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    counts = [sum(1 for c in r if c.strip()) for r in rows]
    modal = Counter(counts[1:] or counts).most_common(1)[0][0]
    # the header is the first row filled like the data (a title row has one cell; merged headers fewer)
    idx = next((i for i, c in enumerate(counts) if c >= max(2, modal // 2 + 1) or c >= modal), 0)
    if merged:
        for rng in merged:
            (r0, c0), (r1, c1) = rng
            if r0 <= idx <= r1 and c1 > c0:
                raise ValidationError(
                    f"{name}: the header cells of columns {c0 + 1}-{c1 + 1} are merged into one: "
                    "expected one header cell per column. Unmerge them and name each column."
                )
    cand = [c.strip() for c in rows[idx]]
    has_header = not any(_NUMBERISH.match(c) for c in cand if c)
    src = Source(file_name=name, kind="xlsx", headers=[], skip=idx, has_header=has_header)
    if idx:
        src.notes.append(f"Skipped {idx} row(s) above the header (a title).")
    if has_header:
        src.headers = _clean_headers(cand, name, rows[idx + 1:])
        src.rows = rows[idx + 1:]
    else:
        src.headers = [f"column_{i + 1}" for i in range(width)]
        src.rows = rows[idx:]
    return src


# -- into DuckDB ---------------------------------------------------------------------
ARROW = "_imp_arrow"   # the file's cells as a registered Arrow table (the usual case)
PICK = "_imp_pick"     # a few of those rows, registered by `picked_rows`
TEXT = "_imp_text"     # or as a temp table, when only DuckDB's own reader can read the file


def load_raw(cur: Any, src: Source, view: str) -> int:
    """Make temp view `view` (_r, then c0..cN as VARCHAR) over the file's cells; return the row count.

    `_r` is the data row's position from 0, so a message can name the file's
    row number (`src.first_data_row + _r`).

    DuckDB's strict reader is the judge of a well-formed CSV file (the same
    field count on every line, closed quotes, no line over 1 MB) and words
    the message when it is not. The cells themselves are read by polars,
    whose reader costs about a third of materialising them in a DuckDB table
    (1M rows x 11 columns: ~0.45 vs ~1.4 s of CPU), and handed to DuckDB as
    Arrow. polars refuses extra fields and open quotes itself; what it lets
    through and DuckDB does not shows as a blank last cell (a short row, a
    blank line, which DuckDB skips), a CR line end (DuckDB refuses mixed line
    ends, seen in the first 256 KB) or a very long line, and only then does
    DuckDB count the rows too.
    Where the two would read different values (spaces around a quoted value)
    or polars cannot read the file, DuckDB reads it.
    """
    cols = [f"c{i}" for i in range(len(src.headers))]
    n = None
    if src.kind == "xlsx":
        import pyarrow as pa

        data = src.rows or []
        arrays = [pa.array([(r[i] if i < len(r) else "") or None for r in data], pa.string()) for i in range(len(cols))]
        src.cells = pa.table({"_r": pa.array(range(len(data)), pa.int64()), **dict(zip(cols, arrays))})
        cur.register(ARROW, src.cells)
        src.raw_base, src.raw_row = ARROW, "_r"
    else:
        df, sure = _polars_cells(src, cols)
        if df is not None and not sure and _strict_count(cur, src, cols) != df.height:
            df = None
        if df is not None:
            # string views are DuckDB's own string layout: handed over without a copy (large strings
            # cost ~0.25 s/1M rows)
            import polars as pl

            cur.register(ARROW, df.to_arrow(compat_level=pl.CompatLevel.newest()))
            src.cells, src.raw_base, src.raw_row, n = df, ARROW, "_r", df.height
        else:
            _duckdb_cells(cur, src, cols)
    define_raw(cur, src, view)
    if n is None:
        n = cur.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0]
    if n == 0:
        raise ValidationError(f"{src.file_name} has a header row but no data rows: expected at least one row.")
    return n


def define_raw(cur: Any, src: Source, view: str) -> None:
    """(Re)create the raw view: the row position, the file's columns, then any constant columns."""
    cur.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {_raw_select(src, src.raw_base, src.raw_row)}")


def _raw_select(src: Source, base: str, row: str) -> str:
    consts = "".join(f", {lit(value)}::VARCHAR AS {col}" for col, value in src.constants)
    cols = ", ".join(f"c{i}" for i in range(len(src.headers) - len(src.constants)))
    return f"SELECT {row}::BIGINT AS _r, {cols}{consts} FROM {base}"


def picked_rows(cur: Any, src: Source, rows: list[int]) -> str:
    """A subquery shaped like the raw view holding only the rows at positions `rows` (their `_r`).

    The preview and the rejected rows show a few hundred rows of a file that
    may hold millions. Joined with the whole raw view, DuckDB decodes every
    cell of the Arrow columns first (its Arrow scan does not filter on `_r`):
    ~0.1 s for 1M rows to show 50. Taking the rows from the Arrow table by
    position reads only those. A file DuckDB read itself is a table, which
    filters on its row ids, so it is given whole.
    """
    if src.cells is None or src.raw_base != ARROW:
        return f"({_raw_select(src, src.raw_base, src.raw_row)})"
    import polars as pl

    at = sorted(set(rows))
    if isinstance(src.cells, pl.DataFrame):   # a CSV file's cells (string views, which Arrow's take lacks)
        cur.register(PICK, src.cells[at].to_arrow(compat_level=pl.CompatLevel.newest()))
    else:                                     # a spreadsheet's, built as Arrow
        import pyarrow as pa

        cur.register(PICK, src.cells.take(pa.array(at, pa.int64())))
    return f"({_raw_select(src, PICK, '_r')})"


def _read_csv_sql(cols: list[str]) -> str:
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in cols) + "}"
    return (f"read_csv(?, delim = ?, header = ?, skip = ?, columns = {columns}, auto_detect = false, "
            f"quote = '\"', escape = '\"', strict_mode = true, max_line_size = {MAX_FIELD_BYTES}, parallel = true)")


def _strict_count(cur: Any, src: Source, cols: list[str]) -> int:
    try:
        return cur.execute(f"SELECT count(*) FROM {_read_csv_sql(cols)}",
                           [src.path, src.delimiter, src.has_header, src.skip]).fetchall()[0][0]
    except Exception as exc:  # duckdb.Error; its text names the line
        raise ValidationError(_explain_csv_error(src, str(exc))) from None


def _polars_cells(src: Source, cols: list[str]) -> tuple[Any, bool]:
    """(the cells as a polars frame: _r, c0..cN, whether DuckDB would surely read the same rows), or (None, False)."""
    import polars as pl

    with open(src.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        # CR line ends: DuckDB refuses a file that mixes them with bare LF (polars reads it), so it counts too
        has_cr = mm.find(b"\r", 0, HEAD_BYTES) >= 0
        has_quote = mm.find(b'"') >= 0  # a byte search: ~30 ms for 100 MB, where a search of the cells takes 300
    try:
        df = pl.read_csv(src.path, has_header=src.has_header, new_columns=cols, separator=src.delimiter,
                         quote_char='"', skip_lines=src.skip, infer_schema=False, row_index_name="_r",
                         truncate_ragged_lines=False, raise_if_empty=False, encoding="utf8")
    except Exception:  # a file polars reads differently (or not at all): DuckDB's reader decides
        return None, False
    if df.width != len(cols) + 1 or df.height == 0:
        return None, False
    # DuckDB drops spaces around a quoted value (' "x"' is x) where polars keeps them: DuckDB reads those
    if has_quote and df.select(pl.any_horizontal(pl.col(cols).str.contains(r'^ +"|" +$')).any()).item():
        return None, False
    # a row with fewer fields, and a blank line, leave the last cell empty
    sure = not has_cr and df[cols[-1]].null_count() == 0
    if sure and os.path.getsize(src.path) > MAX_FIELD_BYTES // 2:
        longest = df.select(pl.sum_horizontal(pl.col(cols).str.len_bytes()).max()).item() or 0
        sure = longest + 3 * len(cols) < MAX_FIELD_BYTES // 2   # room for separators and quotes
    return df, sure


def _duckdb_cells(cur: Any, src: Source, cols: list[str]) -> None:
    try:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {TEXT} AS SELECT * FROM {_read_csv_sql(cols)}",
                    [src.path, src.delimiter, src.has_header, src.skip])
    except Exception as exc:  # duckdb.Error; its text names the line
        raise ValidationError(_explain_csv_error(src, str(exc))) from None
    # rowids of a table made inside a transaction start high: count from the first row
    base = cur.execute(f"SELECT min(rowid) FROM {TEXT}").fetchall()[0][0] or 0
    src.raw_base, src.raw_row = TEXT, f"(rowid - {int(base)})"


def drop_raw(cur: Any) -> None:
    """Forget the registered Arrow cells (the temp tables and views go with the others)."""
    for name in (ARROW, PICK):
        try:
            cur.unregister(name)
        except Exception:  # duckdb.Error: never registered, or the connection is gone
            pass


def _explain_csv_error(src: Source, text: str) -> str:
    line = re.search(r"on Line: (\d+)", text)
    where = f"line {int(line.group(1)) + src.skip}" if line else "somewhere in the file"
    orig = re.search(r"Original Line: (.*)", text)
    shown = (orig.group(1)[:80] + "…") if orig and len(orig.group(1)) > 80 else (orig.group(1) if orig else "")
    delim = DELIMITER_NAMES[src.delimiter]
    if "Expected Number of Columns" in text:
        m = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        exp, found = (m.group(1), m.group(2)) if m else ("?", "?")
        if orig:  # DuckDB stops counting at one too many; count the fields of the line ourselves
            found = str(len(next(csv.reader([orig.group(1)], delimiter=src.delimiter), [])))
        return (f"{src.file_name}, {where}: {found} fields where the header has {exp} "
                f"({delim}-separated): {shown!r}. Expected every row to have {exp} fields; "
                "check for a stray separator or a missing quote.")
    if "unterminated quote" in text or "quote" in text.lower() and "Value with" in text:
        return (f"{src.file_name}, {where}: a quoted value is never closed ({shown!r}). "
                "Expected every opening quote \" to have a closing one.")
    if "Maximum line size" in text or "max_line_size" in text:
        return (f"{src.file_name}, {where}: a row is longer than {MAX_FIELD_BYTES // 1_000_000} MB. "
                "Expected ordinary values; the file may be broken (a missing quote or a pasted document).")
    if "unicode" in text.lower() or "utf" in text.lower():
        return (f"{src.file_name}, {where}: the text is not valid UTF-8 (the file mixes encodings). "
                "Save it again with one encoding (UTF-8 is best).")
    first = text.splitlines()[0] if text else "unknown error"
    return f"{src.file_name}, {where}: cannot be read as {delim}-separated text: {first}"
