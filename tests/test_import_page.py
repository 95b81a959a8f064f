"""The Import/export page as users see it (AppTest; uploads are covered in the browser test)."""

from __future__ import annotations

from tests.apptest_helpers import run_page, texts


def test_analyst_sees_import_help_export_and_history(app_db):
    at = run_page("import_export.py", login="analyst1")
    assert not at.exception
    shown = texts(at)
    assert "Import and export" in shown
    assert "Nothing is written until you press Import" in shown
    assert "prefixed with ' so spreadsheets never run them" in shown
    assert "No imports yet." in shown
    assert at.dataframe   # the reference of what each import type accepts


def test_rep_cannot_import_but_exports_own_rows(app_db):
    at = run_page("import_export.py", login="rep1")
    assert not at.exception
    assert "Only analysts and admins can import" in texts(at)


def test_chinese_labels(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT

    at = AppTest.from_file(str(ROOT / "pages" / "import_export.py"), default_timeout=60)
    at.session_state["actor_login"] = "analyst1"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert "导入与导出" in texts(at)


def test_export_file_is_prepared_on_request(app_db):
    at = run_page("import_export.py", login="rep1")
    at.button(key="exp_prepare").click().run()
    assert not at.exception
    assert "rows ready" in texts(at)
