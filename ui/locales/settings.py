STRINGS = {
    "settings.title": ("Settings", "设置"),
    "settings.stages": ("Pipeline stages", "销售阶段"),
}
