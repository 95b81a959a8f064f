"""Hostile input: SQL-injection strings are stored as text and change nothing else,
script strings are shown as text, exports are formula-safe, uploaded file names
never become paths.

The page test is generic: every text input of every page in pages/ is filled
with hostile strings and every form is submitted, so new pages and forms are
covered without editing this file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest

from crm_core import audit, exporter, importer
from crm_core.access import load_actor
from crm_core.db import Database

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
PAYLOADS = [
    "Robert'); DROP TABLE opportunities; --",
    "x' OR '1'='1",
    "1; UPDATE users SET role = 'admin'; --",
    '"; DELETE FROM accounts; --',
    "<script>window.__xss=1</script><img src=x onerror=alert(1)>",
]
TEXT_TABLES = ("accounts", "opportunities", "contacts", "activities", "users", "departments", "products")


def _state(db: Database) -> dict:
    return {
        "tables": sorted(r[0] for r in db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")),
        "roles": db.rows("SELECT id, role FROM users ORDER BY id"),
        "opportunities": db.scalar("SELECT count(*) FROM opportunities"),
        "accounts": db.scalar("SELECT count(*) FROM accounts"),
    }


def _hostile_values(db: Database) -> list[str]:
    """Every stored text value that contains a piece of a payload."""
    found = []
    for table in TEXT_TABLES:
        cols = [r[0] for r in db.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type = 'VARCHAR'",
            [table])]
        for col in cols:
            found += [r[0] for r in db.rows(
                f'SELECT "{col}" FROM "{table}" WHERE "{col}" LIKE \'%DROP TABLE%\' OR "{col}" LIKE \'%UPDATE users%\' '
                f'OR "{col}" LIKE \'%DELETE FROM%\' OR "{col}" LIKE \'%<script>%\'')]
    return found


def _check_stored_verbatim(db: Database) -> None:
    for value in _hostile_values(db):
        assert value.strip() in PAYLOADS or value.lstrip("'") in PAYLOADS, f"changed on the way in: {value!r}"


def _check_no_raw_html(at) -> None:
    """User text never reaches the browser as live HTML: not in markdown with HTML allowed,
    not in st.html, not in an iframe's document."""
    for el in at.markdown:
        if getattr(el.proto, "allow_html", False):
            assert "<script>window.__xss" not in el.value and "onerror=alert" not in el.value, el.value[:200]
    for kind in ("html", "iframe"):
        for el in at.get(kind):
            body = str(el.proto)  # text inside JSON/JS must be escaped (\u003c), never a raw tag
            assert "<script>window.__xss" not in body and "<img src=x onerror" not in body, body[:200]


@pytest.mark.parametrize("page", PAGES)
def test_hostile_text_in_every_input_of_every_page(app_db, page):
    from tests.apptest_helpers import run_page

    with Database(app_db) as db:
        before = _state(db)
    at = run_page(page, login="admin")
    assert not at.exception, at.exception

    def fill() -> None:
        for i, widget in enumerate([*at.text_input, *at.text_area]):
            widget.set_value(PAYLOADS[i % len(PAYLOADS)])

    fill()
    at.run()
    assert not at.exception, at.exception
    _check_no_raw_html(at)
    submits = [b for b in at.button if getattr(b.proto, "is_form_submitter", False)]
    for i in range(len(submits)):
        current = [b for b in at.button if getattr(b.proto, "is_form_submitter", False)]
        if i >= len(current):
            break
        fill()
        current[i].click().run()
        assert not at.exception, f"{page}, form button {current[i].label!r}: {at.exception}"
        _check_no_raw_html(at)
    with Database(app_db) as db:
        after = _state(db)
        _check_stored_verbatim(db)
    assert after["tables"] == before["tables"], "a table was dropped or created"
    assert after["roles"][: len(before["roles"])] == before["roles"], "a role changed"
    assert after["opportunities"] >= before["opportunities"] and after["accounts"] >= before["accounts"]


def test_hostile_import_fields_are_stored_as_text(demo_db, tmp_path):
    admin = load_actor(demo_db, "admin")
    before = _state(demo_db)
    rows = [{"External id": f"HOSTILE-{i}", "Name": f"{p} {i}", "City": p, "Notes": p, "Industry": p,
             'Evil"; DROP TABLE users; --': p} for i, p in enumerate(PAYLOADS)]
    path = tmp_path / "accounts.csv"
    pl.DataFrame(rows).write_csv(path)
    result = importer.import_file(demo_db, admin, "accounts", path, file_name="accounts.csv", allow_partial=True)
    assert result.created == len(PAYLOADS), result.rejected_rows
    stored = demo_db.dicts("SELECT name, city, notes FROM accounts WHERE external_id LIKE 'HOSTILE-%' ORDER BY external_id")
    for i, (row, p) in enumerate(zip(stored, PAYLOADS)):
        assert row["name"] == f"{p} {i}" and row["city"] == p and row["notes"] == p
    after = _state(demo_db)
    assert after["tables"] == before["tables"] and after["roles"] == before["roles"]
    assert after["accounts"] == before["accounts"] + len(PAYLOADS)
    assert after["opportunities"] == before["opportunities"]


def test_uploaded_file_names_never_become_paths(demo_db, tmp_path):
    admin = load_actor(demo_db, "admin")
    path = tmp_path / "upload.csv"
    pl.DataFrame({"Name": ["Harmless Co"]}).write_csv(path)
    evil = ["../../../../tmp/panorama_pwned.csv", "/etc/passwd", "..\\..\\boot.ini", "a\x00b.csv",
            "'; DROP TABLE import_batches; --.csv"]
    for name in evil:
        result = importer.import_file(demo_db, admin, "accounts", path, file_name=name, dry_run=True)
        assert result.rows_total == 1
    assert not Path("/tmp/panorama_pwned.csv").exists()
    before = set(os.listdir(tempfile.gettempdir()))
    result = importer.import_file(demo_db, admin, "accounts", path, file_name=evil[0])
    assert demo_db.scalar("SELECT file_name FROM import_batches WHERE id = ?", [result.batch_id]) == evil[0]
    created = set(os.listdir(tempfile.gettempdir())) - before
    assert not any("pwned" in n for n in created) and not Path("/tmp/panorama_pwned.csv").exists()
    # the upload page names its temporary copy itself; only the suffix of the upload's name is used
    wizard = (ROOT / "ui" / "import_wizard.py").read_text()
    assert "tempfile.mkstemp" in wizard and "Path(upload.name).suffix" in wizard


FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "=cmd|' /C calc'!A0"]


def _first_cells(text: str) -> list[str]:
    return [r[0] for r in csv.reader(io.StringIO(text.lstrip("\ufeff")))][1:]


def test_every_csv_export_is_formula_safe():
    df = pl.DataFrame({"v": FORMULAS + ["plain"]})
    expected = ["'" + f for f in FORMULAS] + ["plain"]
    assert _first_cells(audit.safe_csv(df)) == expected
    assert _first_cells(exporter.to_bytes(df, "csv").decode("utf-8-sig")) == expected
    for module, fn in (("crm_core.graph", "to_csv"), ("crm_core.value_actions", "to_csv")):
        mod = pytest.importorskip(module)
        if hasattr(mod, fn):
            out = getattr(mod, fn)(df)
            text = out.decode("utf-8-sig") if isinstance(out, bytes) else out
            assert all(("'" + f) in text for f in FORMULAS), module
            lines = text.replace("\r", "\n").split("\n")
            assert not any(line.startswith(("=", "+", "-", "@")) for line in lines), module


def test_exported_table_with_hostile_values_is_safe(demo_db):
    admin = load_actor(demo_db, "admin")
    demo_db.execute("UPDATE accounts SET name = '=HYPERLINK(\"http://evil\",\"x\")' WHERE id = 1")
    text = exporter.to_bytes(exporter.table(demo_db, admin, "accounts"), "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert not any(cell.startswith("=") for row in csv.reader(io.StringIO(text)) for cell in row)


def test_page_forms_really_store_hostile_text(app_db):
    """Guards the generic page test above: its hostile strings do reach the database."""
    from tests.apptest_helpers import run_page

    at = run_page("settings.py", login="admin")
    form_inputs = [w for w in at.text_input if w.key and w.key.startswith("nd_")]
    for w in form_inputs:
        w.set_value(PAYLOADS[0])
    [b for b in at.button if b.label == "Add department"][0].click().run()
    assert not at.exception
    with Database(app_db) as db:
        assert db.scalar("SELECT count(*) FROM departments WHERE name = ?", [PAYLOADS[0]]) == 1
        assert "opportunities" in _state(db)["tables"]


@pytest.mark.parametrize("page", PAGES)
def test_stored_script_text_is_never_live_html(app_db, page):
    """Names already in the database (an import, another user) with script in them are shown as text."""
    from tests.apptest_helpers import run_page

    script = PAYLOADS[-1]
    with Database(app_db) as db, db.atomic() as cur:
        cur.execute("UPDATE accounts SET name = ? || name WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 50)",
                    [script])
        cur.execute("UPDATE opportunities SET name = ? || name WHERE id IN "
                    "(SELECT id FROM opportunities ORDER BY id LIMIT 200)", [script])
        cur.execute("UPDATE contacts SET name = ? || name, title = ? WHERE id IN "
                    "(SELECT id FROM contacts ORDER BY id LIMIT 100)", [script, script])
        cur.execute("UPDATE users SET display_name = ? || display_name WHERE login IN ('rep1', 'rep2', 'manager1')",
                    [script])
        cur.execute("UPDATE products SET name = ? || name WHERE id = 1", [script])
    at = run_page(page, login="admin")
    assert not at.exception, at.exception
    _check_no_raw_html(at)
