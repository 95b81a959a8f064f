"""The value ranking page under AppTest: what a manager and a rep see and do."""

from __future__ import annotations

import pytest

from crm_core import value_scoring
from crm_core.access import load_actor
from tests.apptest_helpers import run_page, texts
from ui.session import _open


def _ranking(at) -> list[str]:
    for df in at.dataframe:
        frame = df.value
        if "Rank" in frame.columns:
            return frame["Customer"].tolist()
    raise AssertionError("no ranking table on the page")


@pytest.fixture
def page(app_db):
    at = run_page("value_ranking.py", login="manager1")
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_manager_sees_ranking_and_every_tab(page, app_db):
    shown = texts(page)
    for heading in ("Customer value ranking", "Top ", "Products bought together", "Up-sell", "Repeat purchases due",
                    "customers overdue against their own rhythm", "Score = 100", "make up 80% of Revenue"):
        assert heading in shown, heading
    db = _open(str(app_db))  # the page's own connection: DuckDB allows one per file in a process
    n = value_scoring.customers(db, load_actor(db, "manager1")).height
    assert page.metric[0].value == f"{n:,}"
    assert len(_ranking(page)) == min(n, 500) > 0


def test_change_a_weight_and_the_ranking_changes(page):
    before = _ranking(page)
    for ni in page.number_input:
        if ni.key and ni.key.startswith("vw_"):
            ni.set_value(1.0 if ni.key == "vw_tenure" else 0.0)
    next(b for b in page.button if "Save weights" in str(b.label)).click()
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    after = _ranking(page)
    assert after != before
    assert page.number_input(key="vw_tenure").value == 1.0


def test_create_tasks_from_a_segment_and_see_them(page):
    page.selectbox(key="va_kind").set_value("tier").run()
    page.selectbox(key="va_key").set_value("A").run()
    page.text_input(key="va_subject").set_value("Quarterly value review")
    next(b for b in page.button if "Create" in str(b.label) and "tasks" in str(b.label)).click()
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    assert any("Created" in s.value for s in page.success), texts(page)
    tasks = next(df.value for df in page.dataframe if "Task" in df.value.columns and "Due" in df.value.columns)
    assert "Quarterly value review" in tasks["Task"].tolist()


def test_rep_cannot_edit_weights(app_db):
    at = run_page("value_ranking.py", login="rep1")
    assert not at.exception
    assert at.number_input(key="vw_revenue").disabled
    assert "Only managers and admins change the weights." in texts(at)


def test_chinese_page_has_every_text(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT

    at = AppTest.from_file(str(ROOT / "pages" / "value_ranking.py"), default_timeout=60)
    at.session_state["actor_login"] = "manager1"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "客户价值排名"
    shown = texts(at)
    assert "value." not in shown, [line for line in shown.splitlines() if "value." in line][:5]
    for df in at.dataframe:
        assert not any(str(c).startswith("value.") or "_" in str(c) for c in df.value.columns), list(df.value.columns)
