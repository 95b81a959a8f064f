"""Bookmarked page addresses: each opens its page when signed in, and the sign-in form (then that page) when not."""

from __future__ import annotations

from tests.e2e.conftest import assert_no_exception, open_page, wait_for_app

NOT_FOUND = "Page not found"


def test_bookmarked_pipeline_address_opens_the_pipeline(signed_in_page, app_server):
    page = signed_in_page("rep1")
    open_page(page, app_server, "pipeline")
    assert NOT_FOUND not in page.inner_text("body")
    assert page.get_by_role("heading", name="Pipeline").count() >= 1
    assert_no_exception(page)


def test_visitor_with_a_bookmark_signs_in_and_lands_on_that_page(browser, app_server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(f"{app_server}/forecast")
        page.get_by_role("textbox", name="Login name").wait_for(timeout=30_000)
        wait_for_app(page)
        assert NOT_FOUND not in page.inner_text("body")
        page.get_by_role("textbox", name="Login name").fill("manager1")
        page.get_by_role("textbox", name="Password").fill("panorama-demo")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("[data-testid='stSidebarNav']", timeout=30_000)
        wait_for_app(page)
        assert "/forecast" in page.url
        assert page.get_by_role("heading", name="Forecast").count() >= 1
        assert_no_exception(page)
    finally:
        ctx.close()


def test_language_choice_is_kept_for_the_next_visit(signed_in_page, app_server):
    page = signed_in_page("rep1")
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_text("简体中文").last.click()
    wait_for_app(page)
    assert page.get_by_role("heading", name="销售管道").count() >= 1
    page.wait_for_timeout(500)   # the cookie is set by a script in the page
    open_page(page, app_server, "forecast")   # a new session, as a reload or a new tab
    assert page.locator("h1").first.inner_text() == "漏斗预测"
    assert_no_exception(page)
