"""The offline graph page (ui.graph_render) and the vis.js tables built for it (ui.relationships_view)."""

from __future__ import annotations

import json
import math
import re

import polars as pl
import pytest

from crm_core import graph
from crm_core.access import Actor
from ui import graph_render
from ui.relationships_view import contacts_vis, group_vis, related_table

XSS = "<img src=x onerror=alert(1)>"


def _nodes(n: int, **extra) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(1, n + 1)), "label": [f"n{i}" for i in range(1, n + 1)],
                         "title": [f"node {i}" for i in range(1, n + 1)], **extra})


def _edges(n: int) -> pl.DataFrame:
    return pl.DataFrame({"from": list(range(2, n + 1)), "to": [i // 2 for i in range(2, n + 1)]})


def _data(html: str, name: str) -> list[dict]:
    m = re.search(name + r" = new vis\.DataSet\((.*?)\);\n", html, re.DOTALL)
    return json.loads(m.group(1))


def test_page_is_self_contained():
    html = graph_render.render(_nodes(20), _edges(20))
    assert "vis.Network" in html and "vis-network" in html           # vis.js inline
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "bootstrap.min" not in html
    assert not re.search(r"<(script|link)\b[^>]*(src|href)\s*=", html, re.IGNORECASE)
    assert graph_render.FETCHABLE.search(html) is None
    assert "<!--" not in html


def test_strip_remote_refuses_what_it_cannot_remove():
    with pytest.raises(RuntimeError, match="remote resource"):
        graph_render.strip_remote('<div style="background: url(https://example.com/x.png)"></div>')
    assert graph_render.strip_remote('<script src="https://cdn.example/x.js"></script>ok') == "ok"


def test_user_text_never_enters_markup():
    nodes = pl.DataFrame({"id": [1, 2], "label": [XSS, "</script><script>alert(2)</script>"],
                          "title": [XSS + " href=javascript:alert(3)", "a & b 'q'"]})
    edges = pl.DataFrame({"from": [1], "to": [2], "title": [XSS]})
    html = graph_render.render(nodes, edges)
    assert "<img" not in html and "alert(2)</script>" not in html
    assert "innerHTML = nodeData" not in html      # a title with "href" must not switch to the HTML tooltip
    # the text arrives intact as data
    data = _data(html, "nodes")
    assert data[0]["label"] == XSS and data[1]["title"] == "a & b 'q'"


def test_small_graphs_use_physics_large_ones_python_layout():
    small = graph_render.render(_nodes(50), _edges(50))
    assert '"physics": {"enabled": true' in small
    ids = list(range(1, 601))
    xs, ys = graph_render.tree_positions(ids, [None] + [i // 2 for i in range(2, 601)], radial=True)
    big = graph_render.render(_nodes(600).with_columns(pl.Series("x", xs), pl.Series("y", ys)), _edges(600))
    assert '"physics": {"enabled": false}' in big
    assert "x" in _data(big, "nodes")[0]


def test_radial_layout_rings_and_wedges():
    # root 1 with children 2, 3; 2 has children 4, 5
    xs, ys = graph_render.tree_positions([1, 2, 3, 4, 5], [None, 1, 1, 2, 2], radial=True, level_gap=100)
    r = [math.hypot(x, y) for x, y in zip(xs, ys)]
    assert r[0] == 0
    assert r[1] == pytest.approx(100) and r[2] == pytest.approx(100)
    assert r[3] == pytest.approx(200) and r[4] == pytest.approx(200)
    # 2 has 2 of the 3 leaves: its wedge is [0, 4π/3), its angle the middle, 2π/3
    assert math.atan2(ys[1], xs[1]) == pytest.approx(2 * math.pi / 3)


def test_layered_layout_centres_parents():
    xs, ys = graph_render.tree_positions([1, 2, 3, 4], [None, 1, 1, 2], radial=False, spacing=10, level_gap=50)
    assert ys == [0, 50, 50, 100]
    assert xs[3] == 0 and xs[1] == 0 and xs[2] == 10     # leaves 4 and 3 side by side
    assert xs[0] == 5                                      # centred over its children


def test_group_vis_marks_other_owners_and_sizes(db):
    from tests.test_graph import make_small
    make_small(db)
    from crm_core.access import load_actor
    g = graph.account_group(db, load_actor(db, "repa"), 1, depth=2)
    nodes, edges = group_vis(g, size_by="revenue", colour_by="owner")
    n = {r["id"]: r for r in nodes.to_dicts()}
    assert n[1]["shape"] == "star"
    assert n[3]["shape"] == "diamond" and n[3]["label"] == "Acct 3 [Rep B]"
    assert "details not shown" in n[3]["title"] and "3000" not in n[3]["title"]
    # sizes: sqrt of revenue over the largest visible (account 6: 6000): 12 + 36 * sqrt(2000/6000) for account 2
    assert n[2]["size"] == pytest.approx(12 + 36 * math.sqrt(2000 / 6000))
    assert n[6]["size"] == pytest.approx(48)
    assert set(edges.columns) >= {"from", "to", "color", "arrows"}
    table = related_table(g)
    path = dict(zip(table["Id"].to_list(), table["Path from the picked account"].to_list()))
    assert path[3] == "Acct 1 → (subsidiary of) Acct 2 → (subsidiary of) Acct 3"


def test_contacts_vis_levels(db):
    from tests.test_graph import add_contacts, make_small
    add_contacts(make_small(db))
    nodes, edges = contacts_vis(graph.decision_tree(db, Actor.system(), 2), deal=True)
    n = {r["id"]: r for r in nodes.to_dicts()}
    assert n[3]["label"] == "Low\nChampion" and n[3]["shape"] == "diamond"
    assert n[1]["color"] == "#eeeeee"       # a boss not on the deal
    assert n[3]["level"] == 2 and edges.height == 4


def test_build_time_for_2000_nodes_is_reported():
    """Not a pass/fail timing: prints the figure the docs quote (see docs/relationships.md)."""
    import time
    ids = list(range(1, 2001))
    parents = [None] + [(i - 2) // 13 + 1 for i in range(2, 2001)]
    nodes = _nodes(2000)
    graph_render.render(nodes.head(10), _edges(10))  # template compiled once per process
    t0 = time.perf_counter()
    xs, ys = graph_render.tree_positions(ids, parents, radial=True)
    html = graph_render.render(nodes.with_columns(pl.Series("x", xs), pl.Series("y", ys)), _edges(2000))
    ms = (time.perf_counter() - t0) * 1000
    print(f"\n2,000-node graph page: {ms:.0f} ms, {len(html) / 1e6:.2f} MB")
    assert len(_data(html, "nodes")) == 2000
