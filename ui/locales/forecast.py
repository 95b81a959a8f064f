STRINGS = {
    "forecast.title": ("Funnel forecast", "漏斗预测"),
}
