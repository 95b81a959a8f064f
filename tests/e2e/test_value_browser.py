"""The value ranking page in Chromium: saving weights changes the ranking, a
segment downloads as formula-safe CSV and becomes follow-up tasks that show in
the open-tasks (reminders) list."""

from __future__ import annotations

import re

import pytest

from crm_core.value_scoring import INDICATORS
from tests.e2e.conftest import assert_no_exception, open_page, wait_for_app
from ui.locales.value import STRINGS

pytestmark = pytest.mark.e2e


def metric_value(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app(page)


def open_tasks_count(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"Open follow-up tasks \(reminders\): \d+")).first
    heading.wait_for(timeout=20_000)
    return int(re.search(r"(\d+)\s*$", heading.inner_text()).group(1))


def test_value_page_end_to_end(signed_in_page, app_server):
    page = signed_in_page("manager1")
    open_page(page, app_server, "value_ranking")
    page.get_by_role("heading", name="Customer value ranking").wait_for(timeout=20_000)
    page.locator("[data-testid='stMetric']").filter(has_text="Top customer").first.wait_for(timeout=60_000)
    assert_no_exception(page)
    top_before = metric_value(page, "Top customer")

    # weights: everything on tenure alone -> the longest-standing customer leads
    tab(page, "Weights")
    form = page.locator("[data-testid='stForm']").filter(has_text="Save weights")
    for ind in INDICATORS:
        box = form.get_by_label(STRINGS[f"value.ind.{ind.key}"][0], exact=True)
        box.fill("1" if ind.key == "tenure" else "0")
    page.get_by_role("button", name="Save weights").click()
    wait_for_app(page)
    page.wait_for_function(
        "(b) => { const m = [...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
        ".find(e => e.innerText.includes('Top customer'));"
        " return m && !m.querySelector('[data-testid=\"stMetricValue\"]').innerText.includes(b); }",
        arg=top_before, timeout=20_000)
    assert metric_value(page, "Top customer") != top_before
    assert_no_exception(page)

    # the default list is value tier A: download it, then create tasks for its owners
    tab(page, "Export / tasks")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.splitlines()[0].startswith("account_id,name,owner_name,tier")
    assert not re.search(r"(^|,)[=+\-@]", text, re.M)
    before = open_tasks_count(page)
    page.get_by_role("button", name=re.compile(r"Create \d+ tasks")).click()
    wait_for_app(page)
    done = page.get_by_text(re.compile(r"Created \d+ tasks")).first
    done.wait_for(timeout=20_000)
    created = int(re.search(r"Created (\d+) tasks", done.inner_text()).group(1))
    assert created > 0
    assert open_tasks_count(page) == before + created
    assert_no_exception(page)


def test_rep_sees_own_book_and_read_only_weights(signed_in_page, app_server):
    page = signed_in_page("rep1")
    open_page(page, app_server, "value_ranking")
    page.get_by_role("heading", name="Customer value ranking").wait_for(timeout=20_000)
    page.locator("[data-testid='stMetric']").filter(has_text="Top customer").first.wait_for(timeout=60_000)
    wait_for_app(page)
    tab(page, "Weights")
    page.get_by_text("Only managers and admins change the weights.").wait_for(timeout=15_000)
    assert page.get_by_role("button", name="Save weights").is_disabled()
    assert_no_exception(page)
