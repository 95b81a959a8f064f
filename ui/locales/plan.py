STRINGS = {
    "plan.title": ("Plan vs actual", "计划与实际"),
    "plan.month": ("Month", "月份"),
}
