"""The corpus of bad files: each is refused with a message saying where and what, and changes nothing.

"Nothing" is checked byte for byte: a checksum of every table's rows before
and after each attempt (sequences may move; table contents may not).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crm_core import importer, settings
from crm_core.access import Actor
from crm_core.db import Database, quote_ident
from crm_core.errors import CrmError

BAD = Path(__file__).parent / "fixtures" / "import" / "bad"
SYSTEM = Actor.system()

# file, import type, words the message must contain (row, column, value, what was expected)
CASES = [
    ("empty.csv", "accounts", ["empty", "0 bytes", "expected"]),
    ("header_only.csv", "accounts", ["no data rows"]),
    ("blank_lines.csv", "accounts", ["only blank lines"]),
    ("binary.csv", "accounts", ["not a text file", "byte 0x00"]),
    ("png_renamed.csv", "accounts", ["not a text file"]),
    ("hash_delimited.csv", "accounts", ["single column", "'Account Name#Industry'"]),
    ("ragged_short.csv", "accounts", ["line 3", "2 fields", "header has 3", "'Beta,Finance'"]),
    ("ragged_long.csv", "accounts", ["line 3", "4 fields", "header has 2"]),
    ("unbalanced_quote.csv", "accounts", ["line 3", "never closed"]),
    ("impossible_date.csv", "opportunities", ["Row 2", "'Close Date'", "'2024-02-30'", "not a valid date"]),
    ("month_13.csv", "opportunities", ["Row 3", "'Close Date'", "'2024-13-01'", "expected a date"]),
    ("old_year.csv", "opportunities", ["Row 2", "'0202-05-01'", "not a valid date"]),
    ("ambiguous_dates.csv", "opportunities", ["'03/04/2024'", "'Close Date'", "day-first or month-first"]),
    ("mixed_date_orders.csv", "opportunities", ["day-first (row 2)", "month-first (row 3)"]),
    ("negative_amount.csv", "opportunities", ["Row 3", "'Amount'", "'-250'", "0 or more"]),
    ("text_amount.csv", "opportunities", ["Row 2", "'about 100'", "expected an amount"]),
    ("duplicate_ids.csv", "opportunities", ["Row 4", "'Opportunity ID'", "'X1'", "row 2"]),
    ("unknown_stage.csv", "opportunities", ["Row 2", "'Stage'", "'Maybe later'", "configured stage"]),
    ("unknown_owner.csv", "opportunities", ["Row 2", "'Owner'", "'nobody@nowhere.example'", "no user"]),
    ("unknown_account.csv", "contacts", ["Row 2", "'Account'", "'No Such Company Ltd'", "no account"]),
    ("unknown_parent.csv", "accounts", ["Row 2", "'Parent Company'", "no account"]),
    ("unknown_product.csv", "opportunities", ["Row 2", "'Product'", "'Hover Board 3000'", "no product"]),
    ("formula_injection.csv", "accounts", ["Row 2", "'Account Name'", "=HYPERLINK", "formula"]),
    ("formula_dde.csv", "accounts", ["Row 2", "'Industry'", "@SUM", "formula"]),
    ("missing_required_column.csv", "opportunities", ["Row 2", "'stage'", "no stage column"]),
    ("no_key_no_name.csv", "accounts", ["no column for the required field(s) name"]),
    ("duplicate_headers.csv", "accounts", ["'Industry' appears twice", "columns 2 and 3"]),
    ("blank_header_with_data.csv", "accounts", ["column 2 has values but no header"]),
    ("bad_stance.csv", "contacts", ["Row 2", "'Stance'", "'maybe'", "expected one of"]),
    ("influence_out_of_range.csv", "contacts", ["Row 2", "'Influence'", "'9'", "between 1 and 5"]),
    ("probability_150.csv", "opportunities", ["Row 2", "'150%'", "between 0 and 1"]),
    ("not_really.xlsx", "accounts", ["cannot be read as an Excel workbook"]),
    ("blank_required_value.csv", "accounts", ["Row 3", "'Account Name'", "(blank)", "required"]),
    ("name_too_long.csv", "accounts", ["Row 2", "'Account Name'", "longer than 300 characters"]),
    ("bad_boolean.csv", "products", ["Row 2", "'Active'", "'perhaps'", "yes/no"]),
    ("mixed_encodings.csv", "accounts", ["line 3", "mixes encodings"]),
    ("latin1.csv", "accounts", ["encoding", "expected UTF-8, GBK"]),
    ("negative_quantity.csv", "orders", ["Row 2", "'Quantity'", "'-3'", "0 or more"]),
    ("merged_header.xlsx", "accounts", ["merged"]),
    ("empty_sheet.xlsx", "accounts", ["sheet is empty"]),
]


def checksums(db: Database) -> dict[str, str]:
    names = [r[0] for r in db.rows("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'")]
    return {n: db.scalar(f"SELECT md5(coalesce(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR), '')) "
                         f"FROM {quote_ident(n)} t") for n in names}


@pytest.fixture(scope="module")
def shared_db(_demo_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "bad.duckdb"
    shutil.copy(_demo_template, path)
    db = Database(path)
    yield db
    db.close()


def test_corpus_is_big_enough():
    assert len(CASES) >= 30
    assert {c[0] for c in CASES} <= {p.name for p in BAD.iterdir()}


@pytest.mark.parametrize("name,entity,words", CASES, ids=[c[0] for c in CASES])
def test_bad_file_refused_with_message_and_nothing_changes(shared_db, name, entity, words):
    before = checksums(shared_db)
    with pytest.raises(CrmError) as exc:
        importer.import_file(shared_db, SYSTEM, entity, BAD / name)
    message = str(exc.value)
    for word in words:
        assert word in message, f"{name}: {word!r} not in {message!r}"
    assert checksums(shared_db) == before


def test_partial_load_also_refuses_file_level_problems(shared_db):
    before = checksums(shared_db)
    with pytest.raises(CrmError, match="never closed"):
        importer.import_file(shared_db, SYSTEM, "accounts", BAD / "unbalanced_quote.csv", allow_partial=True)
    assert checksums(shared_db) == before


def test_ten_megabyte_field(shared_db, tmp_path):
    path = tmp_path / "huge_field.csv"
    path.write_text("Account Name,Notes\nAcme,ok\nBeta," + "x" * 10_000_000 + "\n")
    before = checksums(shared_db)
    with pytest.raises(CrmError, match=r"line 3: a row is longer than 1 MB"):
        importer.import_file(shared_db, SYSTEM, "accounts", path)
    assert checksums(shared_db) == before


def test_gbk_bytes_after_the_sample_are_caught(shared_db, tmp_path):
    path = tmp_path / "late_gbk.csv"
    body = "".join(f"Company {i},City {i}\n" for i in range(20_000)).encode()
    path.write_bytes(b"Account Name,City\n" + body + "上海贸易,上海\n".encode("gbk"))
    before = checksums(shared_db)
    with pytest.raises(CrmError, match="not valid UTF-8"):
        importer.import_file(shared_db, SYSTEM, "accounts", path)
    assert checksums(shared_db) == before


def test_file_over_the_upload_limit(shared_db, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("Account Name\n" + "Acme\n" * 300_000)
    settings.put(shared_db, SYSTEM, "import.max_file_mb", 1)
    try:
        before = checksums(shared_db)
        with pytest.raises(CrmError, match="over the upload limit of 1 MB"):
            importer.import_file(shared_db, SYSTEM, "accounts", path)
        assert checksums(shared_db) == before
    finally:
        settings.put(shared_db, SYSTEM, "import.max_file_mb", 512)


def test_rejected_rows_are_listed_in_a_dry_run(shared_db):
    r = importer.import_file(shared_db, SYSTEM, "opportunities", BAD / "duplicate_ids.csv", dry_run=True)
    assert (r.created, r.rejected) == (2, 1)
    row = r.rejected_rows.row(0, named=True)
    assert row == {"row": 4, "column": "Opportunity ID", "value": "X1",
                   "reason": "duplicate: the same key as row 2 of this file; expected each row once"}
