"""The forecast page in Chromium: clicking a funnel stage lists its deals, the
owner filter changes the numbers, the what-if moves the forecast, and a
snapshot shows up in the accuracy view."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_exception, open_page, wait_for_app

pytestmark = pytest.mark.e2e


def metric_value(page, label: str) -> str:
    """The metric's value once it is drawn (a tab's metrics render after the tab is shown)."""
    value = page.locator("[data-testid='stMetric']").filter(has_text=label).first.locator(
        "[data-testid='stMetricValue']")
    value.wait_for(timeout=30_000)
    page.wait_for_function("(el) => el.innerText.trim().length > 0", arg=value.element_handle(), timeout=30_000)
    return value.inner_text().strip()


def wait_metric_changes(page, label: str, old: str) -> None:
    page.wait_for_function(
        "([label, old]) => { const m = [...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
        ".find(e => e.innerText.includes(label));"
        " const v = m && m.querySelector('[data-testid=\"stMetricValue\"]');"
        " return v && v.innerText.trim().length > 0 && v.innerText.trim() !== old; }",
        arg=[label, old], timeout=30_000)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app(page)


def test_forecast_page_end_to_end(signed_in_page, app_server):
    page = signed_in_page("manager1")
    open_page(page, app_server, "forecast")
    page.get_by_role("heading", name="Funnel forecast").wait_for(timeout=20_000)
    page.locator(".funnellayer .point").first.wait_for(timeout=60_000)
    assert_no_exception(page)

    # click the Proposal bar of the funnel: its deals are listed below
    # (a user's click lands on plotly's drag layer, which selects the point under it)
    bar = page.locator("[data-testid='stPlotlyChart'] .funnellayer .point").nth(3).bounding_box()
    page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    wait_for_app(page)
    page.get_by_role("heading", name=re.compile(r"^Proposal: \d+ deals")).wait_for(timeout=15_000)
    assert_no_exception(page)

    # what-if: Negotiation to zero lowers the scenario (before filtering: every team has such deals)
    tab(page, "What-if")
    scenario = metric_value(page, "Scenario forecast (window)")
    box = page.get_by_label("Negotiation")
    box.fill("0")
    box.press("Enter")
    wait_for_app(page)
    wait_metric_changes(page, "Scenario forecast (window)", scenario)
    assert_no_exception(page)

    # the owner filter changes the cohort
    tab(page, "Funnel")
    before = metric_value(page, "Deals created in the period")
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.locator("[data-testid='stMultiSelect']").first.click()
    page.get_by_role("option").filter(has_not_text="Select all").first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    wait_metric_changes(page, "Deals created in the period", before)
    assert_no_exception(page)

    # a snapshot taken now appears in the accuracy view
    tab(page, "Accuracy")
    weeks = page.get_by_label("Weeks before month end")
    weeks.fill("0")
    weeks.press("Enter")
    wait_for_app(page)
    page.get_by_text("No snapshot qualifies yet").first.wait_for(timeout=15_000)
    page.get_by_role("button", name="Take a snapshot now").click()
    wait_for_app(page)
    page.get_by_role("heading", name="By rep").wait_for(timeout=15_000)
    assert_no_exception(page)
