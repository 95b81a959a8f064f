STRINGS = {
    "io.title": ("Import and export", "导入与导出"),
}
