"""Every page runs for a signed-in user and shows its heading and real data."""

import pytest

from tests.apptest_helpers import run_page, texts

PAGES = {
    "pipeline.py": "Pipeline",
    "forecast.py": "Funnel forecast",
    "plan_vs_actual.py": "Plan vs actual",
    "relationships.py": "Relationship",
    "value_ranking.py": "value",
    "import_export.py": "Import",
    "settings.py": "Settings",
}


@pytest.mark.parametrize("page,heading", PAGES.items())
def test_page_shows_heading_and_data(app_db, page, heading):
    at = run_page(page)
    assert not at.exception, at.exception
    assert heading.lower() in at.title[0].value.lower()
    assert len(at.dataframe) >= 1
    assert any(df.value.shape[0] > 0 for df in at.dataframe), f"{page} shows no rows"


@pytest.mark.parametrize("page", PAGES)
def test_page_refuses_visitor_not_signed_in(app_db, page):
    at = run_page(page, login=None)
    assert not at.exception
    assert "sign in" in texts(at).lower()
    assert len(at.dataframe) == 0


def test_app_shows_login_form_first(app_db):
    at = run_page("app.py", login=None)
    assert not at.exception
    assert "Sign in" in at.title[0].value


def test_language_switch_to_chinese(app_db):
    at = run_page("app.py", login="admin")
    at.selectbox(key="lang_picker").select("zh").run()   # as a user does, with the sidebar switch
    assert not at.exception
    assert at.title[0].value == "销售管道"
