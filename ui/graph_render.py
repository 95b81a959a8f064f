"""Network diagrams as one self-contained, offline HTML page (pyvis's template, vis.js inline).

Why not `pyvis.Network.add_node/add_edge` and `generate_html`: those scan lists
on every call (quadratic on thousands of nodes), build a fresh Jinja
environment per network (recompiling the 700 kB vis.js include each time), and
switch to a tooltip that sets `innerHTML` whenever a title contains "href" (an
injection route). So this module fills pyvis's own template once, in bulk, with
the tooltip that sets `innerText`, and strips what the template links from
CDNs (Bootstrap from jsdelivr, cdnjs) even in in-line mode.

Safety of user text: names, titles and notes reach the browser only as JSON
inside a script (Jinja's `tojson` escapes `<`, `>`, `&` and `'`), vis.js draws
labels on a canvas and shows tooltips with `innerText`, so a contact called
`<img src=x onerror=alert(1)>` is drawn as that text and never parsed as HTML.
Nothing else from users enters the page.

Large graphs: above `PHYSICS_LIMIT` nodes the positions come from a tree
layout computed here (linear time) and physics is off; past `NODE_CAP` nodes
the farthest are left out by the caller (the page says how many).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import polars as pl
import pyvis
from jinja2 import Environment, FileSystemLoader

PHYSICS_LIMIT = 500
NODE_CAP = 2000
LABEL_EDGE_LIMIT = 300   # edge labels clutter and slow big graphs

_CDN_TAG = re.compile(
    r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>"
    r"|<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>",
    re.IGNORECASE | re.DOTALL,
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_EMPTY_HEADING = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>", re.IGNORECASE)
# What a browser would fetch: a src/href/url()/@import pointing off the page.
FETCHABLE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\b)""",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _template():
    env = Environment(loader=FileSystemLoader(os.path.join(os.path.dirname(pyvis.__file__), "templates")),
                      autoescape=False)
    return env.get_template("template.html")


_NODES, _EDGES, _OPTIONS = "@@PANORAMA_NODES@@", "@@PANORAMA_EDGES@@", "@@PANORAMA_OPTIONS@@"


class _Placeholder(list):
    """A one-item list standing in for the data: Jinja's `length` sees `size`, `tojson` writes the marker."""

    def __init__(self, marker: str, size: int):
        super().__init__([marker])
        self.size = size

    def __len__(self) -> int:
        return self.size


@lru_cache(maxsize=16)
def _skeleton(height: int, physics: bool, many: bool) -> tuple[str, str, str]:
    """The page around the data, rendered, stripped of remote links and checked once per variant.

    Returns the HTML split at the node and edge markers (options are spliced as JSON we write).
    """
    html = _template().render(
        height=f"{height}px", width="100%", nodes=_Placeholder(_NODES, 101 if many else 0),
        edges=[_EDGES], heading="", options=_OPTIONS, physics_enabled=physics, use_DOT=False, dot_lang="",
        widget=False, bgcolor="#ffffff", conf=False, tooltip_link=False, neighborhood_highlight=False,
        select_menu=False, filter_menu=False, notebook=False, cdn_resources="in_line",
    )
    html = strip_remote(html)
    nodes_at, edges_at = f'["{_NODES}"]', f'["{_EDGES}"]'
    if html.count(nodes_at) != 1 or html.count(edges_at) != 1 or html.count(_OPTIONS) != 1:
        raise RuntimeError("pyvis's template changed: the graph data markers were not found once each")
    head, rest = html.split(nodes_at)
    middle, tail = rest.split(edges_at)
    return head, middle, tail


def _json_for_script(df: pl.DataFrame) -> str:
    """Rows as a JSON array safe inside <script> (as Jinja's tojson: < > & ' escaped).

    Columns with nulls go row by row leaving the null fields out (vis.js treats
    a present null differently from an absent field); the rest in bulk.
    """
    df = df.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
    if df.height and any(df[c].null_count() for c in df.columns):
        text = json.dumps([{c: v for c, v in zip(df.columns, row) if v is not None} for row in df.iter_rows()],
                          ensure_ascii=False)
    else:
        text = df.write_json() if df.height else "[]"
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("'", "\\u0027"))


def strip_remote(html: str) -> str:
    """Remove CDN <link>/<script> tags and HTML comments; refuse a page that would still fetch off the machine."""
    html = _CDN_TAG.sub("", html)
    html = _HTML_COMMENT.sub("", html)
    html = _EMPTY_HEADING.sub("", html)
    left = FETCHABLE.search(html)
    if left:
        raise RuntimeError(f"the graph page still references a remote resource near: {html[left.start():][:120]!r}")
    return html


def render(nodes: pl.DataFrame, edges: pl.DataFrame, *, hierarchical: bool = False, height: int = 650,
           physics: bool | None = None) -> str:
    """The HTML page for a network.

    `nodes` has vis.js node fields as columns (id, label, title, color, size,
    shape, level, x, y, borderWidth, ...); `edges` has from, to and optional
    label, title, color, dashes, arrows. Text fields are plain text.
    """
    n = nodes.height
    if physics is None:
        physics = n <= PHYSICS_LIMIT and not hierarchical and "x" not in nodes.columns
    if "x" in nodes.columns:
        physics = False
    if edges.height > LABEL_EDGE_LIMIT and "label" in edges.columns:
        edges = edges.drop("label")
    options: dict[str, Any] = {
        "interaction": {"hover": True, "tooltipDelay": 120, "navigationButtons": False, "hideEdgesOnDrag": n > 300},
        "nodes": {"font": {"size": 14, "face": "sans-serif"}, "borderWidth": 1},
        "edges": {"smooth": False if n > 300 else {"type": "continuous"}, "font": {"size": 11, "align": "middle"},
                  "color": {"inherit": False}},
        "physics": {"enabled": bool(physics)},
    }
    if physics:
        options["physics"].update({
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {"gravitationalConstant": -60, "springLength": 110, "avoidOverlap": 0.4},
            "stabilization": {"enabled": True, "iterations": 250, "fit": True},
        })
    if "x" in nodes.columns:
        # positions are given: skip vis.js's own Kamada-Kawai start layout (seconds on 2,000 nodes)
        options["layout"] = {"improvedLayout": False}
    if hierarchical and "x" not in nodes.columns:
        options["layout"] = {"hierarchical": {"enabled": True, "direction": "UD", "sortMethod": "directed",
                                              "levelSeparation": 120, "nodeSpacing": 170,
                                              "shakeTowards": "roots"}}
    head, middle, tail = _skeleton(int(height), bool(physics), n > 100)
    # options hold no user text; the data is escaped for a script block
    head, middle, tail = (part.replace(_OPTIONS, json.dumps(options)) for part in (head, middle, tail))
    return head + _json_for_script(nodes) + middle + _json_for_script(edges) + tail


def tree_positions(ids: Sequence[int], parents: Sequence[int | None], *, radial: bool,
                   spacing: float = 60.0, level_gap: float = 140.0) -> tuple[list[float], list[float]]:
    """x, y for each node of a forest given each node's parent (None for a root), in linear time.

    `ids` must list parents before children (breadth-first order). Radial:
    the first root at the centre, each level on a ring, each subtree in a
    wedge as wide as its number of leaves. Layered: levels top to bottom,
    leaves side by side, each parent centred over its children.
    """
    index = {i: k for k, i in enumerate(ids)}
    n = len(ids)
    parent_idx = [index.get(p, -1) if p is not None else -1 for p in parents]
    children: list[list[int]] = [[] for _ in range(n)]
    depth = [0] * n
    for k in range(n):
        p = parent_idx[k]
        if 0 <= p < k:
            children[p].append(k)
            depth[k] = depth[p] + 1
        else:
            parent_idx[k] = -1
    leaves = [1] * n
    for k in range(n - 1, -1, -1):
        if children[k]:
            leaves[k] = sum(leaves[c] for c in children[k])
    roots = [k for k in range(n) if parent_idx[k] == -1]
    xs, ys = [0.0] * n, [0.0] * n
    if radial:
        total = sum(leaves[r] for r in roots) or 1
        per_level: dict[int, int] = {}
        for d in depth:
            per_level[d] = per_level.get(d, 0) + 1
        radius, r_prev = {0: 0.0}, 0.0
        for d in range(1, max(per_level) + 1):
            r_prev = max(r_prev + level_gap, per_level.get(d, 0) * spacing / (2 * math.pi))
            radius[d] = r_prev
        start = [0.0] * n
        span = [0.0] * n
        at = 0.0
        for r in roots:
            start[r], span[r] = at, 2 * math.pi * leaves[r] / total
            at += span[r]
        for k in range(n):  # parents come first, so each wedge is known before its children's
            a = start[k]
            for c in children[k]:
                start[c], span[c] = a, span[k] * leaves[c] / leaves[k]
                a += span[c]
            ang = start[k] + span[k] / 2
            if k == roots[0]:
                rad = 0.0
            elif parent_idx[k] == -1:
                rad = radius.get(1, level_gap)  # further roots sit on the first ring
            else:
                rad = radius[depth[k]]
            xs[k], ys[k] = rad * math.cos(ang), rad * math.sin(ang)
        return xs, ys
    # layered: leaves left to right in depth-first order, each parent centred over its children
    next_x = 0.0
    order = []
    stack = list(reversed(roots))
    while stack:  # depth-first pre-order so subtrees stay together
        k = stack.pop()
        order.append(k)
        stack.extend(reversed(children[k]))
    for k in order:
        if not children[k]:
            xs[k] = next_x
            next_x += spacing
    for k in range(n - 1, -1, -1):
        if children[k]:
            xs[k] = (xs[children[k][0]] + xs[children[k][-1]]) / 2
        ys[k] = depth[k] * level_gap
    return xs, ys


def group_html(group) -> str:
    """The customer-group page's drawing for an `AccountGroup` (default sizing and colours); used by the benchmark."""
    from ui.relationships_view import group_vis

    nodes, edges = group_vis(group, size_by="revenue", colour_by="owner")
    return render(nodes, edges)
