"""Normalised company names: the key of first-in ownership and of import matching.

Two names are the same company when they agree after folding full-width
characters to half-width (NFKC), case, punctuation and spacing, and dropping
common legal suffixes ("Inc.", "Ltd.", "Co.", "GmbH", "有限公司", ...).
"""

from __future__ import annotations

import re
import unicodedata

# Longest first, so "co ltd" is removed before "ltd".
_SUFFIXES_LATIN = [
    "company limited", "co ltd", "co limited", "pty ltd", "private limited", "pvt ltd",
    "incorporated", "corporation", "limited", "company", "holdings", "group",
    "gmbh", "s a r l", "sarl", "s p a", "spa", "s a", "sa", "ag", "bv", "nv", "oy", "ab", "kk",
    "llc", "llp", "plc", "ltd", "inc", "corp", "co",
]
_SUFFIXES_CJK = [
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团公司", "股份公司", "集团", "公司",
]
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalize_company_name(name: str | None) -> str:
    """The comparison key of a company name; '' for blank input."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", str(name)).casefold().strip()
    text = _PUNCT.sub(" ", text)
    text = " ".join(text.split())
    changed = True
    while changed and text:
        changed = False
        for suffix in _SUFFIXES_CJK:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)].strip()
                changed = True
        for suffix in _SUFFIXES_LATIN:
            if text.endswith(" " + suffix):
                text = text[: -len(suffix) - 1].strip()
                changed = True
    if text.startswith("the "):
        text = text[4:]
    return text.replace(" ", "")


def normalize_phone(phone: str | None) -> str:
    """Digits only, without a leading international 00/+ and country code 86/1 guesswork."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", str(phone)))
    if digits.startswith("00"):
        digits = digits[2:]
    return digits


def normalize_tax_id(tax_id: str | None) -> str:
    if not tax_id:
        return ""
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", str(tax_id))).upper()
