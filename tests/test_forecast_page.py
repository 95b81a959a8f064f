"""The forecast page under AppTest: what a manager sees, and that filters, the
method, the what-if and snapshots change it as they should."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_core import forecast
from crm_core.access import load_actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from tests.apptest_helpers import run_page, texts


def metric(at, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


@pytest.fixture
def page(app_db):
    return run_page("forecast.py", login="manager1")


def period() -> PipelineFilter:
    return PipelineFilter(date_from=date.today() - timedelta(days=365), date_to=date.today())


def test_manager_sees_funnel_forecast_and_tabs(page, app_db):
    assert not page.exception
    assert page.title[0].value == "Funnel forecast"
    shown = texts(page)
    for text in ("Win rate", "This month: forecast", "Stale open deals", "Weighted with each stage's default"):
        assert text in shown
    db = Database(app_db)
    try:
        expect = forecast.funnel(db, load_actor(db, "manager1"), period()).row(0, named=True)["entered"]
    finally:
        db.close()
    assert metric(page, "Deals created in the period") == f"{expect:,}"
    assert page.dataframe[0].value.shape[0] == 6  # five open stages and Won


def test_owner_filter_changes_the_numbers(page, app_db):
    before = metric(page, "Deals created in the period")
    owners = page.multiselect(key="_flt_owner")
    db = Database(app_db)
    try:
        rep_id = db.scalar("SELECT id FROM users WHERE display_name = ?", [owners.options[0]])
    finally:
        db.close()
    owners.set_value([rep_id]).run()
    assert not page.exception
    after = metric(page, "Deals created in the period")
    db = Database(app_db)
    try:
        flt = PipelineFilter(date_from=period().date_from, date_to=period().date_to, owner_ids=(rep_id,))
        expect = forecast.funnel(db, load_actor(db, "manager1"), flt).row(0, named=True)["entered"]
    finally:
        db.close()
    assert after == f"{expect:,}" and after != before


def test_method_choice_is_stated(page):
    page.radio(key="fc_method").set_value("empirical").run()
    assert not page.exception
    assert "Weighted with empirical probabilities" in texts(page)


def test_whatif_changes_the_forecast(page):
    before = metric(page, "Scenario forecast (window)")
    stage_inputs = [n for n in page.number_input if n.key.startswith("fc_wi_")]
    for n in stage_inputs:
        n.set_value(0.0)
    page.run()
    assert not page.exception
    after = metric(page, "Scenario forecast (window)")
    assert after != before
    # with every open stage at 0 the scenario is what is already won in the window
    delta = next(m for m in page.metric if m.label == "Scenario forecast (window)").delta
    assert delta.startswith("-")


def test_snapshot_appears_in_the_accuracy_view(page):
    assert "No snapshot qualifies yet" in texts(page)
    page.number_input(key="fc_weeks").set_value(0)
    page.button(key="fc_snapshot").click().run()
    assert not page.exception
    shown = texts(page)
    assert "By rep" in shown and "No snapshot qualifies yet" not in shown
    keys = [d.key for d in page.dataframe if getattr(d, "key", None)]
    assert any(k == "fc_accuracy_table" for k in keys) or len(page.dataframe) > 10


def test_stage_pick_lists_its_deals(page):
    page.selectbox(key="fc_stage_pick").set_value("Negotiation").run()
    assert not page.exception
    assert any(s.value.startswith("Negotiation:") for s in page.subheader)


def test_rep_sees_only_their_own(app_db):
    at = run_page("forecast.py", login="rep1")
    assert not at.exception
    db = Database(app_db)
    try:
        rep = load_actor(db, "rep1")
        expect = db.scalar("SELECT count(*) FROM opportunities WHERE owner_id = ? AND created_at >= ? "
                           "AND created_at < ?::DATE + INTERVAL 1 DAY",
                           [rep.id, period().date_from, period().date_to])
    finally:
        db.close()
    assert metric(at, "Deals created in the period") == f"{expect:,}"


def test_chinese_labels(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT

    at = AppTest.from_file(str(ROOT / "pages" / "forecast.py"), default_timeout=60)
    at.session_state["actor_login"] = "manager1"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "漏斗预测"


def test_analyst_cannot_take_snapshots(app_db):
    at = run_page("forecast.py", login="analyst1")
    at.button(key="fc_snapshot").click().run()
    assert not at.exception
    assert any("does not allow you to take forecast snapshots" in e.value for e in at.error)
