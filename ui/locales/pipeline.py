STRINGS = {
    "pipeline.title": ("Pipeline", "销售管道"),
    "pipeline.open_count": ("Open opportunities", "进行中的商机"),
}
