STRINGS = {
    "rel.title": ("Relationship diagrams", "关系图"),
    "rel.account_id": ("Account id", "客户编号"),
}
