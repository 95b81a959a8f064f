"""Export: formula-safe CSV/XLSX, encodings, row rules; the crm import/export commands."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

from crm_core import exporter
from crm_core.access import load_actor
from crm_core.cli import main
from crm_core.errors import PermissionDenied, ValidationError

FIX = Path(__file__).parent / "fixtures" / "import"
DANGER = pl.DataFrame({"name": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "plain", None],
                       "amount": [-5, 1, 2, 3, 4, 5, 6]})


def test_csv_neutralises_formulas_and_has_a_bom():
    data = exporter.to_bytes(DANGER, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig").splitlines()
    assert text[1:6] == ["'=1+1,-5", "'+cmd,1", "'-2+3,2", "'@SUM(A1),3", "'\tx,4"]
    assert text[6] == "plain,5"                       # numbers (even negative) and plain text unchanged


def test_gbk_csv_for_old_excel():
    df = pl.DataFrame({"客户": ["东方物流有限公司"]})
    assert exporter.to_bytes(df, "csv", encoding="gbk").decode("gb18030") == "客户\n东方物流有限公司\n"


def test_xlsx_cells_are_text_not_formulas():
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(exporter.to_bytes(DANGER, "xlsx")))
    ws = wb.active
    assert ws["A2"].value == "'=1+1" and ws["A2"].data_type == "s"
    assert ws["B2"].value == -5


def test_parquet_keeps_data_as_is():
    back = pl.read_parquet(io.BytesIO(exporter.to_bytes(DANGER, "parquet")))
    assert back["name"][0] == "=1+1"


def test_unknown_format_refused():
    with pytest.raises(ValidationError, match="expected one of csv, xlsx, parquet"):
        exporter.to_bytes(DANGER, "pdf")


def test_table_export_follows_row_rules(demo_db):
    rep = load_actor(demo_db, "rep1")
    mine = exporter.table(demo_db, rep, "opportunities")
    assert set(mine["owner_id"].to_list()) == {rep.id}
    assert mine.height == demo_db.scalar("SELECT count(*) FROM opportunities WHERE owner_id = ?", [rep.id])
    users = exporter.table(demo_db, load_actor(demo_db, "admin"), "users")
    assert "password_hash" not in users.columns
    with pytest.raises(PermissionDenied):
        exporter.table(demo_db, rep, "audit_log")
    with pytest.raises(ValidationError, match="Cannot export"):
        exporter.table(demo_db, rep, "schema_migrations")


def test_cli_import_dry_run_import_undo_and_export(demo_db, tmp_path, capsys):
    path = demo_db.path
    demo_db.close()
    assert main(["--db", path, "import", "accounts", str(FIX / "accounts_ok.csv"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "create 3" in out
    rejected = tmp_path / "rejected.csv"
    assert main(["--db", path, "import", "opportunities", str(FIX / "bad" / "negative_amount.csv"),
                 "--rejected-out", str(rejected)]) == 2
    assert "Row 3, column 'Amount', value '-250'" in capsys.readouterr().err
    assert "-250" in rejected.read_text(encoding="utf-8-sig")
    assert main(["--db", path, "import", "accounts", str(FIX / "accounts_ok.csv"), "--save-mapping", "mine"]) == 0
    out = capsys.readouterr().out
    batch = int(out.split("batch ")[1].split(":")[0])
    assert main(["--db", path, "import", "undo", str(batch)]) == 0
    assert "Deleted 3 created row(s)" in capsys.readouterr().out
    target = tmp_path / "accounts.xlsx"
    assert main(["--db", path, "export", "accounts", "--out", str(target)]) == 0
    assert target.stat().st_size > 1000
    assert main(["--db", path, "--user", "rep1", "import", "accounts", str(FIX / "accounts_ok.csv")]) == 2
    assert "does not allow you to import" in capsys.readouterr().err
