STRINGS = {
    "settings.title": ("Settings", "设置"),
    "settings.tab_general": ("General", "常规"),
    "settings.tab_pipeline": ("Pipeline rules", "管道规则"),
    "settings.tab_users": ("Users and roles", "用户与角色"),
    "settings.stages": ("Pipeline stages", "销售阶段"),
    "settings.company": ("Company", "公司"),
    "settings.fiscal_year_start": ("Fiscal year starts in month {month}", "财年起始月份：{month}"),
    "settings.currency": ("Currency: {currency}", "币种：{currency}"),
    "settings.pipeline_rules": ("Pool, reminder and lifecycle rules", "公海、提醒与生命周期规则"),
    "settings.users": ("Users", "用户"),
}
