STRINGS = {
    "value.title": ("Customer value ranking", "客户价值排名"),
}
