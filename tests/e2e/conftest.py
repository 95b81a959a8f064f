"""Real-browser fixtures: the app served by `python -m ui.launch run app.py` (as scripts/run.sh does) on a free
loopback port against a temporary demo database, driven by Playwright in
Debian's /usr/bin/chromium (no browser download).

Use `app_server` (the base URL), `browser`, and `signed_in_page(login)` which
returns a Playwright page already signed in. Every test module gets its own
server, so tests that write do not disturb each other's modules.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crm_core import demo
from crm_core.db import Database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def pytest_collection_modifyitems(config, items):
    """A browser test that fails is run up to twice more before it counts as failed.

    A real browser against a live server has timing races that no wait can rule
    out entirely (a canvas grid redrawing under a click, a slow first render);
    a genuine defect fails all three runs. The rerun is reported in the summary.
    """
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=1))

@pytest.fixture(scope="session")
def e2e_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "template.duckdb"
    db = Database(path)
    demo.generate(db, seed=42, scale=0.3)
    db.close()
    return path


def start_server(db_path: Path, log_path: Path) -> tuple[subprocess.Popen, str, float]:
    """Start the app; returns the process, its URL and seconds until it answered."""
    port = _free_port()
    env = {**os.environ, "CRM_DB_PATH": str(db_path), "PYTHONPATH": str(ROOT)}
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.launch", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def app_server(e2e_template: Path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    db_path = tmp / "app.duckdb"
    shutil.copy(e2e_template, db_path)
    proc, url, _ = start_server(db_path, tmp / "streamlit.log")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout,
    )
    page.wait_for_timeout(300)


def sign_in(page, url: str, login: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Login name").fill(login)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=30_000)
    wait_for_app(page)


@pytest.fixture
def signed_in_page(browser, app_server):
    """A factory: signed_in_page('rep1') -> a Playwright page signed in as rep1."""
    contexts = []

    def make(login: str = "admin"):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(ctx)
        requested: list[str] = []
        ctx.on("request", lambda request: requested.append(request.url))
        page = ctx.new_page()
        page.requested_urls = requested  # for assert_offline
        sign_in(page, app_server, login)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def open_page(page, base_url: str, url_path: str) -> None:
    """Go to a page by its URL path (e.g. 'forecast') within the signed-in session."""
    page.goto(f"{base_url}/{url_path}")
    wait_for_app(page)


def assert_offline(page, base_url: str) -> None:
    """Every request the page (and its iframes) made went to the app itself."""
    local = (base_url, "data:", "blob:", "about:")
    off = [u for u in page.requested_urls if not u.startswith(local)]
    assert off == [], f"requests off the machine: {off[:5]}"


def assert_no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()
