"""Plan vs actual in headless Chromium: the charts draw, a target edited in the
grid changes its attainment, a target file with an error is refused with its
message and changes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, open_page, wait_for_app

pytestmark = pytest.mark.e2e

# glide grid column numbers: 0 is the row marker, then the grid's columns in order
TARGET_COL, ACTUAL_COL, ATTAINMENT_COL = 4, 5, 6


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click(no_wait_after=True)
    wait_for_app(page, 60_000)


def _cell(grid, col: int, row: int = 0) -> str:
    return grid.locator(f"[data-testid='glide-cell-{col}-{row}']").inner_text().strip()


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "") or "nan")


def test_overview_draws_charts(signed_in_page, app_server):
    page = signed_in_page("manager1")
    open_page(page, app_server, "plan_vs_actual")
    page.get_by_role("heading", name="Plan vs actual").first.wait_for(timeout=60_000)
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 2  # bars per member, cumulative line
    page.get_by_text("Leaderboard").wait_for()
    assert_no_exception(page)


def test_edit_a_target_in_the_grid_changes_its_attainment(signed_in_page, app_server):
    page = signed_in_page("admin")
    open_page(page, app_server, "plan_vs_actual")
    _open_tab(page, "Targets")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    actual = _number(_cell(grid, ACTUAL_COL))
    before = _cell(grid, ATTAINMENT_COL)
    new_target = 1000.0 if actual == 0 else round(actual * 4, 2)  # 25 % attained
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 60, box["y"] + 52)  # the first row's id cell
    for _ in range(TARGET_COL - 1):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # open the cell editor, its text selected
    page.wait_for_timeout(300)
    page.keyboard.insert_text(str(new_target))
    page.keyboard.press("Tab")  # commit the edit
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Save targets").click()
    page.get_by_text("Targets saved: 0 added, 1 changed, 0 deleted.").wait_for(timeout=30_000)
    wait_for_app(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    assert _number(_cell(grid, TARGET_COL)) == pytest.approx(new_target)
    after = _cell(grid, ATTAINMENT_COL)
    if actual > 0:
        assert _number(after) == pytest.approx(25.0, abs=0.1)
        assert after != before
    assert_no_exception(page)


def test_import_with_an_error_is_refused_and_changes_nothing(signed_in_page, app_server, tmp_path):
    page = signed_in_page("admin")
    open_page(page, app_server, "plan_vs_actual")
    _open_tab(page, "Targets")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=60_000)
    rows_before = grid.get_attribute("aria-rowcount") or grid.locator("[aria-rowcount]").first.get_attribute(
        "aria-rowcount")
    bad = tmp_path / "targets.csv"
    bad.write_text("period,metric,owner,value\n2026Q3,won_amount,rep2,100\n2026Q3,won_amount,nobody,5\n")
    page.get_by_text("Import targets from a CSV file").click()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(bad))
    wait_for_app(page)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Nothing was imported").wait_for(timeout=30_000)
    assert page.get_by_text("row 3: no owner called 'nobody'").count() >= 1
    grid = page.locator("[data-testid='stDataFrame']").first
    rows_after = grid.get_attribute("aria-rowcount") or grid.locator("[aria-rowcount]").first.get_attribute(
        "aria-rowcount")
    assert rows_after == rows_before
    assert_no_exception(page)
