"""Turning crm_core's relationship data into what the page draws: vis.js node and
edge tables (built in bulk with polars expressions, not per node) and the
readable table of related units. Text stays plain: the renderer keeps it out
of HTML markup."""

from __future__ import annotations

import polars as pl

from crm_core.graph import RELATIONS, AccountGroup, ContactGraph
from ui.i18n import t

OWNER_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
                 "#e15759", "#af7aa1", "#86bcb6", "#d37295"]
POOL_COLOUR = "#bab0ac"
HIDDEN_COLOUR = "#d9d9d9"
LIFECYCLE_COLOURS = {"lead": "#9ecae9", "prospect": "#f2cf5b", "customer": "#59a14f", "dormant": "#f28e2b",
                     "churned": "#e15759"}
STANCE_COLOURS = {"supporter": "#59a14f", "neutral": "#edc948", "opponent": "#e15759", "unknown": "#bab0ac"}
ROLE_SHAPES = {"decision_maker": "star", "influencer": "triangle", "evaluator": "square", "champion": "diamond",
               "blocker": "triangleDown", "user": "dot"}
EDGE_STYLE = {  # colour, dashed, arrow
    "subsidiary_of": ("#555555", False, "to"),
    "supplier_of": ("#4e79a7", False, "to"),
    "customer_of": ("#76b7b2", False, "to"),
    "partner_of": ("#59a14f", False, ""),
    "competitor_of": ("#e15759", True, ""),
    "reports_to": ("#777777", False, "to"),
}
LABEL_MAX = 40


def relation_label(code: str | None) -> str:
    return t(f"rel.kind.{code}") if code else ""


def _relation_map() -> dict[str, str]:
    return {code: relation_label(code) for code in RELATIONS}


def _money(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64)


def _fmt_money(col: str) -> pl.Expr:
    return pl.when(pl.col(col).is_null()).then(pl.lit("—")).otherwise(
        _money(col).round(0).cast(pl.Int64).cast(pl.Utf8))


def _sizes(values: pl.Expr, lo: float, hi: float) -> pl.Expr:
    top = values.max()
    return (pl.when(values.is_null() | (top <= 0)).then(pl.lit(lo * 0.8))
            .otherwise(lo + (hi - lo) * (values / top).sqrt()))


def group_vis(group: AccountGroup, *, size_by: str, colour_by: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """vis.js nodes and edges for an account group."""
    n = group.nodes
    kind_map = {k: relation_label(k) for k in EDGE_STYLE}
    if colour_by == "lifecycle":
        colour = pl.col("lifecycle").replace_strict(LIFECYCLE_COLOURS, default=HIDDEN_COLOUR)
    else:
        colour = (pl.when(pl.col("restricted")).then(pl.lit(HIDDEN_COLOUR))
                  .when(pl.col("owner_id").is_null()).then(pl.lit(POOL_COLOUR))
                  .otherwise(pl.col("owner_id").mod(len(OWNER_PALETTE))
                             .replace_strict(dict(enumerate(OWNER_PALETTE)), default=POOL_COLOUR)))
    value_col = "won_amount" if size_by == "won" else "annual_revenue"
    owner_text = pl.coalesce(pl.col("owner"), pl.lit(t("rel.pool")))
    label = pl.col("name").str.slice(0, LABEL_MAX)
    label = (pl.when(pl.col("owned_by_other"))
             .then(pl.format("{} [{}]", label, owner_text)).otherwise(label))
    title = pl.concat_str([
        pl.col("name"),
        pl.format("{}: {}", pl.lit(t("rel.col.owner")), owner_text),
        pl.when(pl.col("restricted")).then(pl.lit(t("rel.restricted_note"))).otherwise(pl.concat_str([
            pl.format("{}: {}", pl.lit(t("rel.col.lifecycle")), pl.col("lifecycle").fill_null("—")),
            pl.format("{}: {}", pl.lit(t("rel.col.revenue")), _fmt_money("annual_revenue")),
            pl.format("{}: {}", pl.lit(t("rel.col.won")), _fmt_money("won_amount")),
        ], separator="\n")),
        pl.when(pl.col("depth") > 0).then(pl.format("{}: {}", pl.lit(t("rel.col.relation")),
                                                   pl.col("relation").replace_strict(_relation_map(), default="")))
        .otherwise(pl.lit(t("rel.picked"))),
        pl.col("notes").fill_null(""),
    ], separator="\n", ignore_nulls=True).str.strip_chars()
    nodes = n.select(
        pl.col("id"),
        label.alias("label"),
        title.alias("title"),
        colour.alias("color"),
        _sizes(_money(value_col), 12.0, 48.0).alias("size"),
        pl.when(pl.col("depth") == 0).then(pl.lit("star"))
        .when(pl.col("restricted") | pl.col("owned_by_other")).then(pl.lit("diamond"))
        .otherwise(pl.lit("dot")).alias("shape"),
        pl.when(pl.col("owned_by_other")).then(pl.lit(3)).otherwise(pl.lit(1)).alias("borderWidth"),
    )
    nodes = _maybe_positions(nodes, n["id"].to_list(), n["via_id"].to_list(), radial=True)
    edges = _edges(group.edges, kind_map)
    return nodes, edges


def _edges(e: pl.DataFrame, kind_map: dict[str, str]) -> pl.DataFrame:
    if e.height == 0:
        return pl.DataFrame(schema={"from": pl.Int64, "to": pl.Int64, "label": pl.Utf8, "title": pl.Utf8,
                                    "color": pl.Utf8, "dashes": pl.Boolean, "arrows": pl.Utf8})
    note = pl.col("note") if "note" in e.columns else pl.lit(None, pl.Utf8)
    return e.select(
        pl.col("from_id").alias("from"),
        pl.col("to_id").alias("to"),
        pl.col("kind").replace_strict(kind_map, default="").alias("label"),
        pl.concat_str([pl.col("kind").replace_strict(kind_map, default=""), note], separator="\n",
                      ignore_nulls=True).alias("title"),
        pl.col("kind").replace_strict({k: v[0] for k, v in EDGE_STYLE.items()}, default="#999999").alias("color"),
        pl.col("kind").replace_strict({k: v[1] for k, v in EDGE_STYLE.items()}, default=False).alias("dashes"),
        pl.col("kind").replace_strict({k: v[2] for k, v in EDGE_STYLE.items()}, default="").alias("arrows"),
    )


def _maybe_positions(nodes: pl.DataFrame, ids: list, parents: list, *, radial: bool) -> pl.DataFrame:
    """Above the physics limit, positions come from Python (physics off)."""
    from ui.graph_render import PHYSICS_LIMIT, tree_positions

    if nodes.height <= PHYSICS_LIMIT:
        return nodes
    xs, ys = tree_positions(ids, parents, radial=radial)
    return nodes.with_columns(pl.Series("x", xs), pl.Series("y", ys))


def contacts_vis(graph: ContactGraph, *, deal: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """vis.js nodes (hierarchical levels, sized by influence, coloured by stance) and reports-to edges."""
    n = graph.nodes
    stance_col = "deal_stance" if deal else "stance"
    role_text = (pl.col("role").replace_strict({r: t(f"rel.role.{r}") for r in ROLE_SHAPES}, default="")
                 if deal else pl.lit(""))
    title_parts = [
        pl.col("name"),
        pl.col("title").fill_null(""),
        pl.format("{}: {}", pl.lit(t("rel.col.influence")), pl.col("influence").cast(pl.Utf8).fill_null("—")),
        pl.format("{}: {}", pl.lit(t("rel.col.stance")), pl.col(stance_col).fill_null("unknown")
                  .replace_strict({s: t(f"rel.stance.{s}") for s in STANCE_COLOURS}, default="")),
    ]
    if deal:
        title_parts.insert(1, pl.when(pl.col("on_deal")).then(pl.format("{}: {}", pl.lit(t("rel.col.role")),
                                                                           role_text))
                           .otherwise(pl.lit(t("rel.not_on_deal"))))
        title_parts.append(pl.col("note").fill_null(""))
    else:
        title_parts.append(pl.col("notes").fill_null(""))
    label = pl.col("name").str.slice(0, LABEL_MAX)
    if deal:
        label = pl.when(pl.col("on_deal")).then(pl.format("{}\n{}", label, role_text)).otherwise(label)
    colour = pl.col(stance_col).fill_null("unknown").replace_strict(STANCE_COLOURS, default=HIDDEN_COLOUR)
    if deal:
        colour = pl.when(pl.col("on_deal")).then(colour).otherwise(pl.lit("#eeeeee"))
    shape = (pl.col("role").replace_strict(ROLE_SHAPES, default="box") if deal
             else pl.lit("dot"))
    nodes = n.select(
        pl.col("id"),
        label.alias("label"),
        pl.concat_str(title_parts, separator="\n").str.strip_chars().alias("title"),
        colour.alias("color"),
        (10 + 6 * pl.col("influence").fill_null(1)).cast(pl.Float64).alias("size"),
        shape.alias("shape"),
        pl.col("level").cast(pl.Int64).alias("level"),
    )
    nodes = _maybe_positions(nodes, n["id"].to_list(), n["reports_to_id"].to_list(), radial=False)
    return nodes, _edges(graph.edges, {"reports_to": t("rel.kind.reports_to")})


def related_table(group: AccountGroup) -> pl.DataFrame:
    """The readable table: each related unit with its path from the picked account and its relation."""
    n = group.nodes
    names = dict(zip(n["id"].to_list(), n["name"].to_list()))
    paths = []
    for ids, rels in zip(n["path"].to_list(), n["rels"].to_list()):
        parts = [names.get(ids[0], str(ids[0]))]
        for aid, rel in zip(ids[1:], rels):
            parts.append(f"→ ({relation_label(rel)}) {names.get(aid, str(aid))}")
        paths.append(" ".join(parts))
    return n.select(
        pl.col("id").alias(t("rel.col.id")),
        pl.col("name").alias(t("rel.col.name")),
        pl.col("depth").alias(t("rel.col.depth")),
        pl.col("relation").replace_strict(_relation_map(), default="").alias(t("rel.col.relation")),
        pl.Series(t("rel.col.path"), paths),
        pl.col("owner").fill_null(t("rel.pool")).alias(t("rel.col.owner")),
        pl.col("owned_by_other").alias(t("rel.col.other_owner")),
        pl.col("lifecycle").alias(t("rel.col.lifecycle")),
        _money("annual_revenue").alias(t("rel.col.revenue")),
        _money("won_amount").alias(t("rel.col.won")),
        pl.col("industry").alias(t("rel.col.industry")),
        pl.col("region").alias(t("rel.col.region")),
    )
