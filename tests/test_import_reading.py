"""The two CSV readers agree: polars' fast read and DuckDB's strict read give the same cells.

`reading.load_raw` reads the cells with polars and lets DuckDB judge the file
only when polars could have let a malformed line through. Each file below is
read both ways (the DuckDB way forced by making polars fail); the rows, row
numbers and cleaned values must be identical, or both ways must refuse the file
with the same message.
"""

from __future__ import annotations

import polars.selectors as cs
import pytest

from crm_core.errors import ValidationError
from crm_core.importer import reading
from crm_core.importer.values import clean

SAMPLES = {
    "plain": b"a,b,c\n1,2,3\n4,5,6\n",
    "no_final_newline": b"a,b,c\n1,2,3\n4,5,6",
    "crlf_and_quoted_newline": b"a,b,c\r\n1,2,3\r\n4,\"5\r\n5\",6\r\n",
    "bom": b"\xef\xbb\xbfa,b,c\n1,2,3\n",
    "doubled_quotes": b"a,b,c\n\"x\"\"y\",,\"\"\n1,2,3\n",
    "quote_inside_value": b"a,b,c\n1,2,3\n4,5 \"q\" x,6\n",
    "blank_last_cells": b"a,b,c\n1,2,3\n4,5,\n",
    "blank_line": b"a,b,c\n1,2,3\n\n4,,6\n",
    "blank_lines_at_end": b"a,b,c\n1,2,3\n4,5,6\n\n\n",
    "short_row": b"a,b,c\n1,2,3\n4,5\n7,8,9\n",
    "long_row": b"a,b,c\n1,2,3\n6,7,8,9\n",
    "spaces_line": b"a,b,c\n1,2,3\n  \n4,5,6\n",
    "open_quote": b"a,b,c\n1,\"2,3\n4,5,6\n",
    "open_quote_last": b"a,b,c\n1,2,3\n4,5,\"6\n",
    "text_after_quote": b"a,b,c\n1,\"ab\"cd,3\n4,5,6\n",
    "not_utf8_late": b"a,b,c\n1,2,3\n" + b"x,y,z\n" * 50_000 + b"4,5\xff,6\n",
    "title_line": b"Export of 2024\na;b;c\n1;2;3\n",
    "semicolons_with_commas": b"a;b;c\n1,5;2;3\n",
    "long_field": b"a,b,c\n1,2,3\n4," + b"x" * 1_100_000 + b",6\n",
    "space_before_quote": b"a,b,c\n1, \"x\",3\n4,5,6\n",
    "mixed_line_endings": b"a,b,c\r\n1,2,3\n4,5,6\r\n",
    "tabs_and_quotes": b"a\tb\tc\n\"1\t2\"\t3\t4\n5\t6\t7\n",
    "pipes_gbk_free_utf8": "名称|金额|日期\n华为|1,200|2024-01-05\n".encode(),
    "trailing_separator": b"a,b,c,\n1,2,3,\n4,5,6,\n",
    "long_line_of_short_fields": b"a,b,c\n1,2,3\n" + b",".join([b"y" * 400_000] * 3) + b"\n",
}


def _read(db, tmp_path, name: str, data: bytes, *, duckdb_only: bool, monkeypatch):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    if duckdb_only:
        monkeypatch.setattr(reading, "_polars_cells", lambda src, cols: (None, False))
    try:
        src = reading.open_source(path)
        with db.cursor() as cur:
            try:
                n = reading.load_raw(cur, src, "_imp_raw")
                cells = ", ".join(clean(f"c{i}") for i in range(len(src.headers)))
                rows = cur.execute(f"SELECT _r, {cells} FROM _imp_raw ORDER BY _r").fetchall()
                return ("ok", n, src.first_data_row, rows, src.raw_base)
            finally:
                reading.drop_raw(cur)
    except ValidationError as exc:
        return ("refused", str(exc))
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_polars_and_duckdb_read_the_same(db, tmp_path, monkeypatch, name):
    fast = _read(db, tmp_path, name, SAMPLES[name], duckdb_only=False, monkeypatch=monkeypatch)
    strict = _read(db, tmp_path, name, SAMPLES[name], duckdb_only=True, monkeypatch=monkeypatch)
    assert fast[:4] == strict[:4]


def test_well_formed_files_take_the_fast_read(db, tmp_path, monkeypatch):
    for name in ("plain", "crlf_and_quoted_newline", "bom", "doubled_quotes", "title_line", "no_final_newline"):
        got = _read(db, tmp_path, name, SAMPLES[name], duckdb_only=False, monkeypatch=monkeypatch)
        assert got[0] == "ok" and got[4] == reading.ARROW, name


def test_doubtful_files_are_judged_by_duckdb(db, tmp_path, monkeypatch):
    # a blank last cell is legal, so polars' cells are kept once DuckDB has counted the same rows
    got = _read(db, tmp_path, "blank_last_cells", SAMPLES["blank_last_cells"], duckdb_only=False,
                monkeypatch=monkeypatch)
    assert got[0] == "ok" and got[4] == reading.ARROW and got[1] == 2
    # a blank line is skipped by DuckDB: its count differs, so DuckDB's own cells are used
    got = _read(db, tmp_path, "blank_line", SAMPLES["blank_line"], duckdb_only=False, monkeypatch=monkeypatch)
    assert got[0] == "ok" and got[4] == reading.TEXT and got[1] == 2
    # spaces around a quoted value are dropped by DuckDB and kept by polars: DuckDB reads the file
    got = _read(db, tmp_path, "space_before_quote", SAMPLES["space_before_quote"], duckdb_only=False,
                monkeypatch=monkeypatch)
    assert got[0] == "ok" and got[4] == reading.TEXT and got[3][0] == (0, "1", "x", "3")
    for name, words in (("short_row", "2 fields where the header has 3"), ("long_field", "longer than 1 MB"),
                        ("spaces_line", "line 3: 1 fields"), ("not_utf8_late", "not valid UTF-8")):
        got = _read(db, tmp_path, name, SAMPLES[name], duckdb_only=False, monkeypatch=monkeypatch)
        assert got[0] == "refused" and words in got[1], (name, got)


def test_blank_optional_references_are_counted_in_the_notes(db, tmp_path):
    from crm_core import importer
    from crm_core.access import Actor

    path = tmp_path / "deals.csv"
    # 4 deals: A and D have no account, B an account of spaces only (3 blank); C names a new one
    path.write_text("Name,Stage,Amount,Account\nA,Lead,10,\nB,Lead,20,   \nC,Lead,30,Nobody Ltd\nD,Lead,40,\n")
    r = importer.import_file(db, Actor.system(), "opportunities", path, dry_run=True, create_missing=True)
    assert "3 row(s) have no 'Account' (left empty)." in r.notes
    assert r.to_create["account"] == ["Nobody Ltd"] and r.counts["rejected"] == 0


def _deals_csv(n: int) -> str:
    # deals with a bad amount every 7th row and a blank stage every 11th, spread over the file
    lines = ["Name,Stage,Amount,Account,Region note"]
    for i in range(n):
        stage = "" if i % 11 == 5 else "Lead"
        amount = "lots" if i % 7 == 3 else f"{100 + i}"
        lines.append(f"Deal {i},{stage},{amount}, Acme {i % 4} ,note {i}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("reader", ["polars", "duckdb", "xlsx"])
def test_previews_and_rejected_rows_read_only_their_rows(db, tmp_path, monkeypatch, reader):
    """Previews and rejected rows take their rows from the file by position; the result is what a
    join with the whole file gives (polars' cells, DuckDB's own, a spreadsheet's; with a constant column)."""
    from crm_core import importer
    from crm_core.access import Actor
    from crm_core.importer import plan

    text = _deals_csv(400)
    if reader == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        for line in text.splitlines():
            wb.active.append(line.split(","))
        path = tmp_path / "deals.xlsx"
        wb.save(path)
    else:
        path = tmp_path / "deals.csv"
        path.write_text(text)
    if reader == "duckdb":
        monkeypatch.setattr(reading, "_polars_cells", lambda src, cols: (None, False))

    def run():
        return importer.import_file(db, Actor.system(), "opportunities", path, dry_run=True, create_missing=True,
                                    allow_partial=True, constants={"source": "Fair"}, preview_rows=30)

    picked = run()
    monkeypatch.setattr(plan, "picked_rows", lambda cur, src, rows: plan.RAW)
    whole = run()
    bad = {i for i in range(400) if i % 7 == 3 or i % 11 == 5}
    assert picked.counts == whole.counts and picked.counts["rejected"] == len(bad) == 88
    def same(a, b):  # but for the time the rows would be stored at (each run's own "now")
        return a.drop(cs.datetime()).equals(b.drop(cs.datetime())) and a.columns == b.columns

    assert picked.preview.height == 30 and same(picked.preview, whole.preview)
    assert picked.rejected_rows.height > 90 and picked.rejected_rows.equals(whole.rejected_rows)
    for action in ("create", "rejected"):
        assert picked.samples[action].height > 0 and same(picked.samples[action], whole.samples[action])
    first = picked.rejected_rows.row(0, named=True)
    assert first["row"] == 5 and first["value"] == "lots"   # data row 3 (0-based) is file line 5
    assert picked.preview.row(2, named=True)["account"] == "Acme 2"
