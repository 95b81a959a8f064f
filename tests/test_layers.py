"""The layering rules of docs/HACKING.md, checked on the source tree.

crm_core must stay usable from the CLI, cron and tests without Streamlit, and
SQL must live only in crm_core so that access rules cannot be bypassed from a
page.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Upper-case keywords, as the project writes SQL; prose such as "Select an
# account from the list" must not count.
_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b", re.DOTALL)


def _python_files(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in (ROOT / d).rglob("*.py")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_crm_core_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in _python_files("crm_core") if "streamlit" in _imports(p)]
    assert offenders == []


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_sql_outside_crm_core():
    files = _python_files("pages", "ui") + [ROOT / "app.py"]
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in files for line, text in _string_constants(p)
                 if _SQL.search(text)]
    assert offenders == []


def test_the_checker_sees_sql():
    # Guards the regex above: without this, a broken pattern would pass silently.
    assert _SQL.search("SELECT id FROM accounts WHERE x = 1")
    assert _SQL.search("INSERT INTO t VALUES (1)")
    assert not _SQL.search("Select an account from the list")
