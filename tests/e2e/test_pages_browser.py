"""Every page in headless Chromium: heading, data, no exception box, no request off the machine."""

import pytest

from tests.e2e.conftest import assert_no_exception, assert_offline, wait_for_app

PAGES = [
    ("Pipeline", "Pipeline"),
    ("Forecast", "Funnel forecast"),
    ("Plan vs actual", "Plan vs actual"),
    ("Relationships", "Relationship diagrams"),
    ("Value ranking", "Customer value ranking"),
    ("Import/export", "Import and export"),
    ("Settings", "Settings"),
]


@pytest.mark.parametrize("nav,heading", PAGES)
def test_each_page_draws(signed_in_page, app_server, nav, heading):
    page = signed_in_page("admin")
    page.locator("[data-testid='stSidebarNav']").get_by_text(nav, exact=True).click()
    wait_for_app(page)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=20_000)
    page.locator("[data-testid='stDataFrame'], [data-testid='stPlotlyChart'], [data-testid='stVegaLiteChart'], iframe"
                 ).first.wait_for(timeout=20_000)
    assert_no_exception(page)
    assert_offline(page, app_server)


def test_not_signed_in_sees_only_login(browser, app_server):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(app_server + "/forecast")
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").wait_for(timeout=20_000)
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    ctx.close()


def test_wrong_password_gives_message(browser, app_server):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(app_server)
    wait_for_app(page)
    page.get_by_role("textbox", name="Login name").fill("rep1")
    page.get_by_role("textbox", name="Password").fill("nope")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong login name or password").wait_for(timeout=15_000)
    ctx.close()
