"""Import in a real browser: upload, dry run, a rejected file's message, load, undo; rep sees no import."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import assert_no_exception, open_page, wait_for_app

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "import"


def _upload(page, path: Path) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    wait_for_app(page)


def test_upload_dry_run_load_and_undo(signed_in_page, app_server):
    page = signed_in_page("analyst1")
    open_page(page, app_server, "import_export")
    page.get_by_role("heading", name="Import and export").wait_for(timeout=20_000)
    _upload(page, FIX / "accounts_ok.csv")
    page.get_by_text("Read as utf-8", exact=False).wait_for(timeout=20_000)
    page.get_by_role("button", name="Check (dry run)").click()
    wait_for_app(page)
    page.get_by_text("Dry run: what the import would do").wait_for(timeout=20_000)
    assert_no_exception(page)
    page.get_by_role("button", name="Import", exact=True).click()
    wait_for_app(page)
    page.get_by_text("Imported as batch").wait_for(timeout=30_000)
    page.get_by_role("tab", name="Import history and undo").click()
    wait_for_app(page)
    page.get_by_role("button", name="Undo this import").click()
    wait_for_app(page)
    # the only batch is undone: nothing is left to undo
    page.get_by_role("button", name="Undo this import").wait_for(state="detached", timeout=20_000)
    assert_no_exception(page)


def test_bad_file_message_in_the_page(signed_in_page, app_server):
    page = signed_in_page("admin")
    open_page(page, app_server, "import_export")
    page.get_by_role("heading", name="Import and export").wait_for(timeout=20_000)
    _upload(page, FIX / "bad" / "ragged_short.csv")
    page.get_by_role("button", name="Check (dry run)").click()
    wait_for_app(page)
    page.get_by_text("2 fields where the header has 3").wait_for(timeout=20_000)
    assert_no_exception(page)


def test_rep_cannot_import(signed_in_page, app_server):
    page = signed_in_page("rep1")
    open_page(page, app_server, "import_export")
    page.get_by_text("Only analysts and admins can import").first.wait_for(timeout=20_000)
    assert page.locator("[data-testid='stFileUploaderDropzoneInput']").count() == 0
    assert_no_exception(page)


def test_unknown_stage_is_offered_for_mapping(signed_in_page, app_server, tmp_path):
    # A stage name the company does not use: the dry run rejects the row and the page offers
    # to map the name to a configured stage or create it (this step once crashed on a bad cached call).
    deals = tmp_path / "deals.csv"
    deals.write_text("name,account,stage,amount,expected_close,owner\n"
                     "Big deal,Nowhere Ltd,Haggling,1000,2026-12-01,rep1\n", encoding="utf-8")
    page = signed_in_page("admin")
    open_page(page, app_server, "import_export")
    page.get_by_role("heading", name="Import and export").wait_for(timeout=20_000)
    page.get_by_label("What the file holds").click()
    page.get_by_role("option", name="Opportunities", exact=True).click()
    wait_for_app(page)
    _upload(page, deals)
    page.get_by_role("button", name="Check (dry run)").click()
    wait_for_app(page)
    page.get_by_text("Stages in the file that are not configured").wait_for(timeout=20_000)
    page.get_by_text("Haggling").first.wait_for(timeout=20_000)
    assert_no_exception(page)
