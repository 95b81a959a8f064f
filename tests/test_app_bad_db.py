"""A bad CRM_DB_PATH gives the app a readable message, not a traceback."""

import pytest

from tests.apptest_helpers import run_page


@pytest.mark.parametrize("kind", ["text", "directory"])
def test_app_explains_bad_database(tmp_path, monkeypatch, kind):
    if kind == "text":
        path = tmp_path / "notes.txt"
        path.write_text("hello\n")
        expected = "not a DuckDB database file"
    else:
        path = tmp_path
        expected = "is a directory"
    monkeypatch.setenv("CRM_DB_PATH", str(path))
    at = run_page("app.py", login=None)
    assert not at.exception
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]


def test_missing_file_is_created_with_demo_data(tmp_path, monkeypatch):
    path = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CRM_DB_PATH", str(path))
    at = run_page("pipeline.py", login="rep2", timeout=120)
    assert not at.exception
    assert path.exists()
    assert at.dataframe[0].value.shape[0] > 0
