"""One small translation layer: every user-visible string goes through `t()`.

Strings live in `ui/locales/*.py`, one module per area, each a dict
`STRINGS = {key: (english, chinese)}`; modules are merged at import, so a
feature adds its own module instead of editing a shared file. A missing key
shows the key itself (and tests check that the keys used exist).
"""

from __future__ import annotations

import importlib
import pkgutil

import streamlit as st

from ui import locales

LANGUAGES = {"en": "English", "zh": "简体中文"}


def _load() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for mod in pkgutil.iter_modules(locales.__path__):
        strings = importlib.import_module(f"ui.locales.{mod.name}").STRINGS
        dupes = set(strings) & set(merged)
        if dupes:
            raise RuntimeError(f"translation keys defined twice (ui/locales/{mod.name}.py): {sorted(dupes)}")
        merged.update(strings)
    return merged


STRINGS = _load()


LANG_COOKIE = "panorama_lang"


def lang() -> str:
    """The session's language: the one chosen in this session, else the one this browser chose last
    (a cookie), else English."""
    chosen = st.session_state.get("lang")
    if chosen is None:
        saved = _saved_lang()
        chosen = saved if saved in LANGUAGES else "en"
        st.session_state["lang"] = chosen
    return chosen


def _saved_lang() -> str | None:
    """The language this browser chose last (its cookie), if any."""
    try:
        return st.context.cookies.get(LANG_COOKIE)
    except Exception:  # no browser behind this run (a script or a test)
        return None


def t(key: str, **kwargs: object) -> str:
    """The text for `key` in the current language, formatted with kwargs."""
    pair = STRINGS.get(key)
    if pair is None:
        text = key
    else:
        text = pair[1] if lang() == "zh" else pair[0]
    return text.format(**kwargs) if kwargs else text


def language_picker() -> None:
    """Sidebar switch between English and Simplified Chinese."""
    current = lang()
    choice = st.sidebar.selectbox(
        "Language / 语言", list(LANGUAGES), index=list(LANGUAGES).index(current),
        format_func=LANGUAGES.get, key="lang_picker",
    )
    if choice != current:
        st.session_state["lang"] = choice
        st.rerun()
    _remember(current)


def _remember(code: str) -> None:
    """Keep the choice in a cookie for the next visit from this browser (a new tab, a reload, tomorrow).

    Streamlit only reads cookies, so a one-line script sets it; the value is
    one of our own language codes, never user text.
    """
    if code not in LANGUAGES or _saved_lang() == code or st.session_state.get("_lang_cookie") == code:
        return
    st.session_state["_lang_cookie"] = code
    st.sidebar.html(f"<script>document.cookie = '{LANG_COOKIE}={code}; path=/; max-age=31536000; "
                    "SameSite=Strict';</script>", unsafe_allow_javascript=True)
