"""Import: reading real-world layouts, mapping, values, matching, loading all-or-nothing, undo, rules."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crm_core import importer, records, settings
from crm_core.access import Actor, load_actor
from crm_core.errors import PermissionDenied, ValidationError
from crm_core.importer import mapping
from crm_core.importer.entities import ENTITIES
from tests.test_import_bad_files import checksums

FIX = Path(__file__).parent / "fixtures" / "import"
GOOD = FIX / "good"
SYSTEM = Actor.system()
BOOKKEEPING = {"import_batches", "import_row_backups", "audit_log", "import_mappings", "settings"}


# Derived caches rebuilt lazily by the pages' reads (forecast, plans, value): whether one
# is filled depends on which test ran before, not on the import.
DERIVED = ("forecast_facts", "plan_facts", "value_summary", "value_account_products")


def data_sums(db):
    return {k: v for k, v in checksums(db).items() if k not in BOOKKEEPING and not k.startswith(DERIVED)}


def test_accounts_load_with_parent_in_same_file_and_undo(db):
    r = importer.import_file(db, SYSTEM, "accounts", FIX / "accounts_ok.csv")
    assert r.counts == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    rows = {n: (p, rev, notes) for n, p, rev, notes in db.rows(
        "SELECT name, parent_id, annual_revenue, notes FROM accounts")}
    parent_id = db.scalar("SELECT id FROM accounts WHERE name = 'Acme Inc.'")
    assert rows["Acme Sub"][0] == parent_id          # "Acme Inc" matches "Acme Inc." by normalised name
    assert rows["Acme Inc."][1] == Decimal("1200.50")  # "1,200.50" with a thousands separator
    assert rows["Acme Sub"][1] == Decimal("300.00")    # "¥300"
    assert rows["Beta GmbH"][2] == "year_established: 1999"   # unmapped column kept, nothing lost
    again = importer.import_file(db, SYSTEM, "accounts", FIX / "accounts_ok.csv")
    assert (again.created, again.unchanged) == (0, 3)
    importer.undo(db, SYSTEM, again.batch_id)
    importer.undo(db, SYSTEM, r.batch_id)
    assert db.scalar("SELECT count(*) FROM accounts") == 0


@pytest.mark.parametrize("name", ["utf8_bom.csv", "gbk.csv", "utf16_excel_unicode.txt", "semicolon_crlf.csv",
                                  "pipe.csv", "title_line.csv"])
def test_encodings_separators_and_title_lines_read_the_same(db, name):
    r = importer.import_file(db, SYSTEM, "accounts", GOOD / name, dry_run=True)
    assert r.rejected == 0 and r.created == 2
    assert r.mapping == {"Account Name": "name", "Industry": "industry", "City": "city"}
    names = r.preview["name"].to_list()
    assert names[1] == "北京精密机械有限公司"
    assert names[0] in ("Acme Inc.", "Acme Inc")


def test_chinese_headers_and_thousands(db):
    r = importer.import_file(db, SYSTEM, "accounts", GOOD / "chinese_headers.csv")
    assert r.mapping == {"客户名称": "name", "行业": "industry", "城市": "city", "年收入": "annual_revenue"}
    assert db.one("SELECT name, normalized_name, annual_revenue FROM accounts") == {
        "name": "东方物流有限公司", "normalized_name": "东方物流", "annual_revenue": Decimal("1234567.80")}


def test_salesforce_export_values(demo_db):
    r = importer.import_file(demo_db, SYSTEM, "opportunities", GOOD / "salesforce_opportunities.csv")
    assert r.created == 2 and r.date_order == "dmy"        # 15/07/2024 can only be day-first
    got = {row["external_id"]: row for row in demo_db.dicts(
        "SELECT o.external_id, o.amount, o.probability, o.expected_close, u.login, a.external_id AS acc, s.name AS stage "
        "FROM opportunities o JOIN users u ON u.id = o.owner_id JOIN accounts a ON a.id = o.account_id "
        "JOIN stages s ON s.id = o.stage_id WHERE o.external_id LIKE 'SF-%'")}
    # "$12,500.00" -> 12500.00, "¥800" -> 800.00; "60" -> 0.6, "10%" -> 0.1; owner by e-mail and by display name
    assert got["SF-1"]["amount"] == Decimal("12500.00") and got["SF-2"]["amount"] == Decimal("800.00")
    assert got["SF-1"]["probability"] == pytest.approx(0.6) and got["SF-2"]["probability"] == pytest.approx(0.1)
    assert str(got["SF-1"]["expected_close"]) == "2024-07-15" and str(got["SF-2"]["expected_close"]) == "2024-08-01"
    assert (got["SF-1"]["login"], got["SF-2"]["login"]) == ("rep1", "rep1")
    assert (got["SF-1"]["acc"], got["SF-1"]["stage"]) == ("A00001", "Proposal")
    total = demo_db.scalar("SELECT sum(amount) FROM opportunities WHERE import_batch_id = ?", [r.batch_id])
    assert total == Decimal("13300.00")   # 12,500 + 800


def test_excel_title_row_and_serial_dates(demo_db):
    r = importer.import_file(demo_db, SYSTEM, "opportunities", GOOD / "excel_with_title.xlsx")
    rows = {e: (str(d), str(c), s) for e, d, c, s in demo_db.rows(
        "SELECT external_id, expected_close, closed_at, status FROM opportunities WHERE external_id LIKE 'XL-%'")}
    assert r.created == 2
    assert rows["XL-1"] == ("2024-07-01", "None", "open")       # a real Excel date cell
    assert rows["XL-2"] == ("2024-07-01", "2024-07-01", "won")  # serial 45474 = 2024-07-01; Won closes it


def test_ambiguous_dates_asked_then_loaded_with_the_users_choice(demo_db):
    path = FIX / "bad" / "ambiguous_dates.csv"
    with pytest.raises(importer.AmbiguousDates):
        importer.import_file(demo_db, SYSTEM, "opportunities", path, dry_run=True)
    r = importer.import_file(demo_db, SYSTEM, "opportunities", path, date_order="mdy")
    assert [str(d) for (d,) in demo_db.rows(
        "SELECT expected_close FROM opportunities WHERE import_batch_id = ? ORDER BY external_id", [r.batch_id])] == [
        "2024-03-04", "2024-05-06"]


def test_dry_run_diff_counts_and_exact_undo_of_updates(demo_db):
    """Two existing accounts (one changed, one the same), one new, one rejected: the diff, then undo."""
    a1, a2 = demo_db.rows("SELECT name, industry FROM accounts WHERE external_id IN ('A00001', 'A00002') "
                          "ORDER BY external_id")
    path = demo_db.path + ".csv"
    Path(path).write_text(
        "Account ID,Account Name,Industry,Employees\n"
        f"A00001,{a1[0]},Aerospace,\n"        # update: industry changes, blank employees keeps the stored value
        f"A00002,{a2[0]},{a2[1]},\n"          # unchanged
        "NEW-1,Brand New Ltd,Retail,12\n"     # create
        "NEW-2,Broken Co,Retail,twelve\n",    # rejected
        encoding="utf-8")
    before = data_sums(demo_db)
    plan = importer.import_file(demo_db, SYSTEM, "accounts", path, dry_run=True)
    assert (plan.created, plan.updated, plan.unchanged, plan.rejected) == (1, 1, 1, 1)
    assert plan.samples["update"]["industry"].to_list() == ["Aerospace"]
    assert data_sums(demo_db) == before                    # a dry run writes nothing
    with pytest.raises(importer.ImportRejected, match="Row 5, column 'Employees', value 'twelve'"):
        importer.import_file(demo_db, SYSTEM, "accounts", path)
    assert data_sums(demo_db) == before                    # all-or-nothing
    r = importer.import_file(demo_db, SYSTEM, "accounts", path, allow_partial=True)
    assert (r.created, r.updated) == (1, 1)
    row = demo_db.one("SELECT industry, employees, version FROM accounts WHERE external_id = 'A00001'")
    assert row["industry"] == "Aerospace" and row["employees"] is not None
    audit = demo_db.one("SELECT after FROM audit_log WHERE action = 'import' AND entity_id = ?", [r.batch_id])
    assert json.loads(audit["after"])["created"] == 1
    importer.undo(demo_db, SYSTEM, r.batch_id)
    assert data_sums(demo_db) == before                    # exactly the previous state, updated row included
    with pytest.raises(ValidationError, match="already undone"):
        importer.undo(demo_db, SYSTEM, r.batch_id)


def test_undo_refused_after_an_edit(demo_db):
    path = demo_db.path + ".csv"
    Path(path).write_text("Account ID,Industry\nA00003,Aerospace\n", encoding="utf-8")
    r = importer.import_file(demo_db, SYSTEM, "accounts", path)
    row = demo_db.one("SELECT id, version FROM accounts WHERE external_id = 'A00003'")
    records.update_versioned(demo_db, SYSTEM, "accounts", row["id"], row["version"], {"city": "Lyon"})
    before = data_sums(demo_db)
    with pytest.raises(ValidationError, match="edited since"):
        importer.undo(demo_db, SYSTEM, r.batch_id)
    assert data_sums(demo_db) == before


def test_undo_refused_while_later_rows_point_at_created_ones(db):
    importer.import_file(db, SYSTEM, "accounts", FIX / "accounts_ok.csv")
    path = db.path + ".csv"
    Path(path).write_text("Full Name,Account\nJo Doe,A-3\n", encoding="utf-8")
    importer.import_file(db, SYSTEM, "contacts", path)
    with pytest.raises(ValidationError, match="contacts row"):
        importer.undo(db, SYSTEM, 1)


def test_unknown_stages_mapped_or_created(demo_db):
    path = FIX / "bad" / "unknown_stage.csv"
    r = importer.import_file(demo_db, SYSTEM, "opportunities", path, dry_run=True)
    assert r.unknown == {"stage": ["Maybe later"]}
    r = importer.import_file(demo_db, SYSTEM, "opportunities", path, stage_map={"Maybe later": "Qualified"})
    assert demo_db.scalar("SELECT s.name FROM opportunities o JOIN stages s ON s.id = o.stage_id "
                          "WHERE o.import_batch_id = ?", [r.batch_id]) == "Qualified"
    importer.undo(demo_db, SYSTEM, r.batch_id)
    r = importer.import_file(demo_db, SYSTEM, "opportunities", path, create_missing=True)
    assert r.also_created == {"stages": 1}
    assert demo_db.scalar("SELECT count(*) FROM stages WHERE name = 'Maybe later'") == 1
    importer.undo(demo_db, SYSTEM, r.batch_id)               # the created stage goes too
    assert demo_db.scalar("SELECT count(*) FROM stages WHERE name = 'Maybe later'") == 0


def test_users_and_managers_in_the_same_upload(db):
    path = db.path + ".csv"
    Path(path).write_text("sales_agent,manager,regional_office,Team\n"
                          "Ann Lee,Bo Chen,East,East Sales\nBo Chen,,East,East Sales\nCy Wu,Dee Ray,West,\n",
                          encoding="utf-8")
    with pytest.raises(importer.ImportRejected, match="'Dee Ray'"):
        importer.import_file(db, SYSTEM, "users", path)
    r = importer.import_file(db, SYSTEM, "users", path, create_missing=True)
    assert r.also_created == {"users": 1, "departments": 1}
    users = {n: (login, role, mgr, dept) for n, login, role, mgr, dept in db.rows(
        "SELECT u.display_name, u.login, u.role, m.display_name, d.name FROM users u "
        "LEFT JOIN users m ON m.id = u.manager_id LEFT JOIN departments d ON d.id = u.department_id")}
    assert users["Ann Lee"] == ("ann.lee", "rep", "Bo Chen", "East Sales")   # manager from a later row
    assert users["Dee Ray"][1] == "manager"                                  # created on request
    assert users["Cy Wu"][2] == "Dee Ray"


def test_saved_mapping_applies_to_the_next_file(db):
    path = db.path + ".csv"
    Path(path).write_text("Firma;Branche\nAcme;Retail\n", encoding="utf-8")
    ent = ENTITIES["accounts"]
    with pytest.raises(ValidationError, match="no column for the required field"):
        importer.import_file(db, SYSTEM, "accounts", path, dry_run=True)
    mapping.save(db, SYSTEM, "german", ent, {"Firma": "name", "Branche": "industry"})
    r = importer.import_file(db, SYSTEM, "accounts", path, mapping="german")
    assert r.created == 1 and db.scalar("SELECT industry FROM accounts") == "Retail"


def test_only_analysts_and_admins_import(demo_db):
    rep = load_actor(demo_db, "rep1")
    manager = load_actor(demo_db, "manager1")
    for actor in (rep, manager):
        with pytest.raises(PermissionDenied):
            importer.import_file(demo_db, actor, "accounts", FIX / "accounts_ok.csv", dry_run=True)
    analyst = load_actor(demo_db, "analyst1")
    r = importer.import_file(demo_db, analyst, "accounts", FIX / "accounts_ok.csv")
    assert demo_db.scalar("SELECT user_login FROM audit_log WHERE action = 'import' AND entity_id = ?",
                          [r.batch_id]) == "analyst1"
    with pytest.raises(PermissionDenied):
        importer.undo(demo_db, rep, r.batch_id)


def test_every_entity_has_aliases_for_its_required_fields():
    for ent in ENTITIES.values():
        auto = mapping.auto_map(ent, [f.name for f in ent.fields])
        assert all(auto[f.name] == f.name for f in ent.fields), ent.name


def test_public_dataset_headers_map_automatically():
    opp = mapping.auto_map(ENTITIES["opportunities"], ["opportunity_id", "sales_agent", "product", "account",
                                                       "deal_stage", "engage_date", "close_date", "close_value"])
    assert opp == {"opportunity_id": "external_id", "sales_agent": "owner", "product": "product",
                   "account": "account", "deal_stage": "stage", "engage_date": "created",
                   "close_date": "close_date", "close_value": "amount"}
    acc = mapping.auto_map(ENTITIES["accounts"], ["account", "sector", "subsidiary_of", "office_location"])
    assert acc == {"account": "name", "sector": "industry", "subsidiary_of": "parent", "office_location": "region"}
    users = mapping.auto_map(ENTITIES["users"], ["sales_agent", "manager", "regional_office"])
    assert users == {"sales_agent": "display_name", "manager": "manager", "regional_office": "region"}


def test_headerless_file_with_mapping_and_constants(db):
    """A quota file with no header: columns mapped by position, the grain given once for every row."""
    users = db.path + ".users.tsv"
    Path(users).write_text("274\t\t0.0\n275\t2\t300000.0\n", encoding="utf-8")
    r = importer.import_file(db, SYSTEM, "users", users, mapping={"column_1": "login"})
    assert r.created == 2 and db.scalar("SELECT display_name FROM users WHERE login = '275'") == "275"
    quotas = db.path + ".quotas.tsv"
    Path(quotas).write_text("274\t2022-05-30 00:00:00.000\t28000.0000\n275\t2022-05-30 00:00:00.000\t367000.0000\n"
                            "275\t2022-08-30 00:00:00.000\t556000.0000\n", encoding="utf-8")
    r = importer.import_file(db, SYSTEM, "targets", quotas, constants={"grain": "quarter"},
                             mapping={"column_1": "owner", "column_2": "period_start", "column_3": "value"})
    assert r.created == 3
    got = db.rows("SELECT u.login, t.grain, t.period_start::VARCHAR, t.metric, t.value FROM targets t "
                  "JOIN users u ON u.id = t.owner_id ORDER BY 1, 3")
    # quota dates fall in Q2 (2022-04-01) and Q3 (2022-07-01); metric defaults to won_amount
    assert got == [("274", "quarter", "2022-04-01", "won_amount", Decimal("28000.00")),
                   ("275", "quarter", "2022-04-01", "won_amount", Decimal("367000.00")),
                   ("275", "quarter", "2022-07-01", "won_amount", Decimal("556000.00"))]


def test_target_periods_follow_the_fiscal_year(db):
    """With the fiscal year starting in April, fiscal Q1 is April-June and Q4 is January-March."""
    settings.put(db, SYSTEM, "fiscal_year_start_month", 4)
    Path(db.path + ".users.csv").write_text("login\nrep9\n", encoding="utf-8")
    importer.import_file(db, SYSTEM, "users", db.path + ".users.csv")
    quotas = db.path + ".fy.csv"
    # a date in each quarter-start case, and two year targets
    Path(quotas).write_text("owner,grain,period,value\n"
                            "rep9,quarter,2026-05-30,10\n"      # fiscal Q1: 2026-04-01
                            "rep9,quarter,2026-03-15,20\n"      # fiscal Q4 of FY2025: 2026-01-01
                            "rep9,quarter,2026-12-01,30\n"      # fiscal Q3: 2026-10-01
                            "rep9,year,2026-02-10,40\n"         # FY2025: 2025-04-01
                            "rep9,year,2026-04-01,50\n"         # FY2026: 2026-04-01
                            "rep9,month,2026-02-10,60\n", encoding="utf-8")
    r = importer.import_file(db, SYSTEM, "targets", quotas, mapping={"period": "period_start"})
    assert r.created == 6, r.notes
    got = db.rows("SELECT grain, period_start::VARCHAR, value::INTEGER FROM targets ORDER BY value")
    assert got == [("quarter", "2026-04-01", 10), ("quarter", "2026-01-01", 20), ("quarter", "2026-10-01", 30),
                   ("year", "2025-04-01", 40), ("year", "2026-04-01", 50), ("month", "2026-02-01", 60)]


def test_every_other_entity_loads_and_undoes(demo_db, tmp_path):
    files = {
        "stage_history": "Opportunity ID,From Stage,To Stage,Changed At,Changed By\n"
                         "O000001,Lead,Qualified,2024-01-05 10:00,rep1\n",
        "activities": "Type,Subject,Account,Opportunity,Owner,Date,Due Date,Done\n"
                      "call,Intro call,A00001,O000001,rep1,2024-01-05 10:00,,yes\n任务,跟进,A00002,,rep1,,2024-07-01,否\n",
        "contracts": 'Contract No,Account,Signed Date,Amount,Status\nK-900,A00001,2024-03-01,"120,000.00",执行中\n',
        "payments": "Contract,Due Date,Amount Due,Paid Date,Amount Paid\nK-900,2024-04-01,60000,2024-04-03,60000\n"
                    "K-900,2024-07-01,60000,,\n",
        "account_links": "From Account,To Account,Kind\nA00002,A00001,subsidiary\n",
        "opportunity_contacts": "Opportunity,Contact,Role,Stance\nO000001,C00002,决策者,支持\n",
        "teams": "Team,Parent,Manager,Region\nNorth Sub,North Sales,,North\nNorth Sales,East Sales,manager1,North\n",
    }
    before = data_sums(demo_db)
    batches = []
    for entity, text in files.items():
        path = tmp_path / f"{entity}.csv"
        path.write_text(text, encoding="utf-8")
        r = importer.import_file(demo_db, SYSTEM, entity, path)
        assert r.rejected == 0 and r.created == text.count("\n") - 1, entity
        batches.append(r.batch_id)
    # payments: 60,000 due twice, 60,000 paid once; the blank paid amount is 0 (hand-worked: 120,000 / 60,000)
    assert demo_db.one("SELECT sum(amount_due) AS due, sum(amount_paid) AS paid FROM payments p "
                       "JOIN contracts c ON c.id = p.contract_id WHERE c.contract_no = 'K-900'") == {
        "due": Decimal("120000.00"), "paid": Decimal("60000.00")}
    assert demo_db.one("SELECT status, amount FROM contracts WHERE contract_no = 'K-900'") == {
        "status": "active", "amount": Decimal("120000.00")}
    assert demo_db.scalar("SELECT p.name FROM departments d JOIN departments p ON p.id = d.parent_id "
                          "WHERE d.name = 'North Sub'") == "North Sales"     # parent named by a later row
    assert demo_db.scalar("SELECT done FROM activities WHERE subject = '跟进'") is False
    assert demo_db.scalar("SELECT role FROM opportunity_contacts WHERE import_batch_id = ?",
                          [batches[5]]) == "decision_maker"
    again = importer.import_file(demo_db, SYSTEM, "opportunity_contacts", tmp_path / "opportunity_contacts.csv")
    assert (again.created, again.unchanged) == (0, 1)
    for batch in reversed([*batches, again.batch_id]):
        importer.undo(demo_db, SYSTEM, batch)
    assert data_sums(demo_db) == before


def test_imported_ids_are_a_reserved_block_and_later_rows_follow_it(db, tmp_path):
    """New rows take ids from one reserved block; the next row made any other way gets an id after it."""
    f = tmp_path / "acc.csv"
    f.write_text("name,industry\nAlpha Ltd,IT\n,IT\nGamma Ltd,IT\nDelta Ltd,IT\n", encoding="utf-8")
    r = importer.import_file(db, SYSTEM, "accounts", f, allow_partial=True)   # row 2 has no name: rejected
    assert (r.created, r.rejected) == (3, 1)
    ids = [i for (i,) in db.rows("SELECT id FROM accounts ORDER BY id")]
    assert len(set(ids)) == 3
    with db.atomic() as cur:
        nxt = cur.execute("SELECT nextval('seq_accounts')").fetchall()[0][0]
    assert nxt > max(ids)
    f.write_text("name\nEpsilon Ltd\n", encoding="utf-8")
    importer.import_file(db, SYSTEM, "accounts", f)
    assert db.scalar("SELECT id FROM accounts WHERE name = 'Epsilon Ltd'") > nxt
