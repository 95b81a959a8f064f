"""Translation tables, one module per area: STRINGS = {key: (english, chinese)}."""
