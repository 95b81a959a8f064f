"""The relationship page in headless Chromium: hostile names stay text, nothing is fetched off the machine,
and a 2,000-node graph is usable quickly."""

from __future__ import annotations

import shutil
import subprocess
import time

import polars as pl
import pytest

from crm_core.db import Database
from tests.e2e.conftest import assert_no_exception, sign_in, start_server, wait_for_app

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
HOOK = "window.__alerts = []; window.alert = (m) => { window.__alerts.push(String(m)); };"


@pytest.fixture(scope="module")
def rel_app(e2e_template, tmp_path_factory):
    """The app on a copy of the demo where a unit of a group and a contact are named like an attack."""
    tmp = tmp_path_factory.mktemp("rel_server")
    path = tmp / "app.duckdb"
    shutil.copy(e2e_template, path)
    db = Database(path)
    root = db.scalar("SELECT parent_id FROM accounts WHERE parent_id IS NOT NULL GROUP BY 1 "
                     "HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")
    child = db.scalar("SELECT min(id) FROM accounts WHERE parent_id = ?", [root])
    contact = db.scalar("SELECT min(id) FROM contacts WHERE account_id = ?", [root])
    with db.atomic() as cur:
        cur.execute("UPDATE accounts SET name = ? WHERE id = ?", [XSS, child])
        cur.execute("UPDATE contacts SET name = ?, title = ? WHERE id = ?", [XSS, XSS, contact])
        cur.execute("INSERT INTO account_links (from_account_id, to_account_id, kind, note) VALUES (?, ?, ?, ?)",
                    [child, root, "partner_of", XSS])
    db.close()
    proc, url, _ = start_server(path, tmp / "streamlit.log")
    yield {"url": url, "root": root, "child": child, "contact": contact}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def guarded(browser, rel_app):
    """A signed-in page whose every frame has alert() hooked, recording every request and dialog,
    and blocking anything that is not the app on the loopback address."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    ctx.add_init_script(HOOK)
    seen: dict[str, list] = {"requests": [], "dialogs": [], "graph_requests": []}

    def record(request):
        seen["requests"].append(request.url)
        try:
            if request.frame.parent_frame is not None:  # made by an iframe: the graph page
                seen["graph_requests"].append(request.url)
        except Exception:  # noqa: BLE001 - service-worker requests have no frame
            pass

    ctx.on("request", record)

    def only_local(route):
        url = route.request.url
        if url.startswith(rel_app["url"]) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            route.abort()

    ctx.route("**/*", only_local)
    page = ctx.new_page()
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    # on a busy machine the first script run can be slow: wait for the form, and sign in a second time if needed
    page.goto(rel_app["url"])
    page.get_by_role("textbox", name="Login name").wait_for(timeout=90_000)
    try:
        sign_in(page, rel_app["url"], "admin")
    except Exception:  # noqa: BLE001 - one retry
        sign_in(page, rel_app["url"], "admin")
    yield page, seen
    ctx.close()


def _graph_frame(page):
    """The frame holding the vis.js network, once it is drawn."""
    page.locator("iframe").first.wait_for(timeout=30_000)
    deadline = time.time() + 30
    while time.time() < deadline:
        for frame in page.frames:
            try:
                if frame.evaluate("() => typeof network !== 'undefined' && !!network.body"):
                    return frame
            except Exception:  # noqa: BLE001 - a frame navigating away
                continue
        page.wait_for_timeout(200)
    raise AssertionError("no drawn network in any frame")


def _hover_node(page, frame, node_id: int) -> str:
    """Move the mouse onto a node and return the tooltip's text."""
    frame.evaluate("() => { network.stopSimulation(); network.fit({animation: false}); }")
    page.locator("iframe").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    spot = frame.evaluate(
        """(id) => { const p = network.getPositions([id])[id]; const d = network.canvasToDOM(p);
                     const r = document.querySelector('#mynetwork canvas').getBoundingClientRect();
                     return {x: r.left + d.x, y: r.top + d.y}; }""", node_id)
    box = page.locator("iframe").first.bounding_box()
    x, y = box["x"] + spot["x"], box["y"] + spot["y"]
    for dx in (0, 2, -2):  # vis.js shows the tooltip after a short hover
        page.mouse.move(x + dx - 5, y - 5)
        page.mouse.move(x + dx, y)
        try:
            frame.wait_for_function(
                "() => { const t = document.querySelector('.vis-tooltip');"
                " return t && t.style.visibility !== 'hidden' && t.innerText.length > 0; }", timeout=3000)
            return frame.evaluate("() => document.querySelector('.vis-tooltip').innerText")
        except Exception:  # noqa: BLE001 - retry a pixel aside
            continue
    raise AssertionError("no tooltip appeared on the node")


def _assert_no_script_ran(page, frame, seen) -> None:
    assert seen["dialogs"] == []
    assert frame.evaluate("() => (window.__alerts || []).length") == 0
    assert page.evaluate("() => (window.__alerts || []).length") == 0
    assert frame.locator("img").count() == 0


def _assert_only_local_requests(seen, base: str) -> None:
    off = [u for u in seen["requests"] if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:")))]
    assert off == [], f"requests off the machine: {off[:5]}"
    graph_off = [u for u in seen["graph_requests"] if not u.startswith(("data:", "blob:", "about:", base))]
    assert graph_off == [], f"the graph page asked for: {graph_off[:5]}"


def test_group_with_hostile_name_shows_text_and_runs_nothing(guarded, rel_app):
    page, seen = guarded
    page.goto(f"{rel_app['url']}/relationships?account={rel_app['root']}")
    wait_for_app(page)
    page.get_by_role("heading", name="Relationship diagrams").wait_for(timeout=20_000)
    frame = _graph_frame(page)
    assert frame.evaluate(f"() => nodes.get({rel_app['child']}).label").startswith(XSS)
    tooltip = _hover_node(page, frame, rel_app["child"])
    assert XSS in tooltip
    _assert_no_script_ran(page, frame, seen)
    assert_no_exception(page)
    _assert_only_local_requests(seen, rel_app["url"])


def test_org_chart_with_hostile_contact(guarded, rel_app):
    page, seen = guarded
    page.goto(f"{rel_app['url']}/relationships?account={rel_app['root']}")
    wait_for_app(page)
    _graph_frame(page)  # the group is drawn first
    page.get_by_role("radio", name="Contact org chart").click(timeout=30_000)
    wait_for_app(page)
    frame = None
    deadline = time.time() + 30
    while time.time() < deadline:  # the group's frame is replaced by the chart's
        frame = _graph_frame(page)
        if frame.evaluate(f"() => nodes.get({rel_app['contact']}) !== null"):
            break
        page.wait_for_timeout(300)
    tooltip = _hover_node(page, frame, rel_app["contact"])
    assert tooltip.startswith(XSS) and tooltip.count(XSS) == 2   # the name and the title, as text
    _assert_no_script_ran(page, frame, seen)
    assert_no_exception(page)
    _assert_only_local_requests(seen, rel_app["url"])


def test_2000_nodes_usable_quickly(browser):
    """Loads a 2,000-node page (Python layout, physics off) and times it until drawn; prints the figure."""
    from ui import graph_render

    n = 2000
    ids = list(range(1, n + 1))
    parents = [None] + [(i - 2) // 13 + 1 for i in range(2, n + 1)]
    xs, ys = graph_render.tree_positions(ids, parents, radial=True)
    nodes = pl.DataFrame({"id": ids, "label": [f"Account {i}" for i in ids], "title": [f"t{i}" for i in ids],
                          "x": xs, "y": ys})
    edges = pl.DataFrame({"from": ids[1:], "to": parents[1:]})
    html = graph_render.render(nodes, edges)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    ctx.on("request", lambda r: requests.append(r.url))
    ctx.route("**/*", lambda route: route.abort())   # nothing may be fetched at all
    page = ctx.new_page()
    page.add_init_script("window.__drawn = 0;")
    start = time.perf_counter()
    page.set_content(html, wait_until="load")
    page.wait_for_function("() => typeof network !== 'undefined' && network.body.data.nodes.length === 2000")
    page.evaluate("() => new Promise(r => { network.once('afterDrawing', () => r()); network.redraw(); })")
    seconds = time.perf_counter() - start
    print(f"\n2,000-node graph usable in Chromium after {seconds:.2f} s")
    assert [u for u in requests if not u.startswith(("data:", "about:"))] == []
    assert seconds < 6  # the budget is 3 s on a quiet machine; the figure is reported in docs/relationships.md
    ctx.close()
